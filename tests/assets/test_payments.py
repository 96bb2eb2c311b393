"""Payment runs through the real pipeline: uploads closed into payouts, `payment_run` materialized for the month
(prepared in the name of the run's operator tag), approved by another operator, exported as pain.001, and the bank
statement dropped in the folder applied by `payment_settlements`: every amount equal to the published payouts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from dagster import RunRequest, SkipReason, build_sensor_context
from lxml import etree

from conftest import distinct_texts, seoul
from onett_assets.sensors import bank_statement_sensor
from onett_cli.session import run_metadata
from onett_domain.payments import PAIN001
from onett_resources import load_settings
from onett_resources.payments import SCHEMA_FILE, PaymentRegister

PETITIONS = "ko_petitions", "petitions.jsonl.gz"
NS = {"p": PAIN001}


def _failure(result) -> tuple[str, dict]:
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data.user_failure_data
            return data.description, {k: v.value for k, v in data.metadata.items()}
    raise AssertionError("the run did not fail")


def test_payment_run_and_settlements_materialize(onett, monkeypatch):
    monkeypatch.setenv("ONETT_DEBTOR_ACCOUNT", "110-999-888777")
    monkeypatch.setenv("ONETT_DEBTOR_BANK", "088")
    monkeypatch.setenv("ONETT_MINIMUM_PAYOUT", "1000")
    texts = distinct_texts(*PETITIONS, 10)
    onett.drop("alice", "a.jsonl", [{"id": f"a{i}", "text": t} for i, t in enumerate(texts[:7])], seoul(2026, 9, 3))
    onett.drop("bob", "b.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(texts[7:])], seoul(2026, 9, 4))
    onett.revenue([(date(2026, 9, 1) + timedelta(n), 10, 100, 50, "1000.5") for n in range(30)])
    onett.ok("ingest")
    onett.ok("close", "2026-09")
    payouts = {c: int(a) for c, a in onett.query("SELECT contributor_id, amount + adjustment FROM payouts "
                                                 "WHERE period = '2026-09-01'")}
    assert set(payouts) == {"alice", "bob"} and sum(payouts.values()) == 9004  # 30 x 1000.5 x 0.3, rounded down

    register = PaymentRegister.from_settings(load_settings())
    register.enter_details("alice", "KB국민은행", "앨리스", "123-456-789012", "004", "alice")
    assert "****9012 confirmed by lee" in onett.ok("payee", "confirm", "alice", "--as", "lee")  # bob: held back
    assert onett.cli("payee", "confirm", "bob", "--as", "lee")[0] == 1  # no details entered
    session = onett.session()

    # an open month is refused, with the reason
    result = session.run("prepare_payment_run", partition_key="2026-10-01", tags={"onett/operator": "kim"})
    assert not result.success and "2026-10 is not closed" in _failure(result)[0]
    assert register.runs() == []

    result = session.run("prepare_payment_run", partition_key="2026-09-01", tags={"onett/operator": "kim"})
    assert result.success
    (run,) = register.runs()
    assert (run.prepared_by, run.state, run.period) == ("kim", "prepared", date(2026, 9, 1))
    items = {i.contributor_id: (i.status, i.amount) for i in register.items(run.id)}
    assert items == {"alice": ("pending", payouts["alice"]), "bob": ("held", payouts["bob"])}
    assert run_metadata(result, "payment_run", "state") == "prepared"
    assert "****9012" in run_metadata(result, "payment_run", "payees")
    assert "no confirmed bank details" in run_metadata(result, "payment_run", "held back")
    # materialized again while the run is active: nothing new
    assert session.run("prepare_payment_run", partition_key="2026-09-01").success
    assert len(register.runs()) == 1

    assert onett.cli("payments", "approve", str(run.id), "--as", "kim")[0] == 1  # two-person rule
    onett.ok("payments", "approve", str(run.id), "--as", "lee")
    out = onett.home / "run1.xml"
    onett.ok("payments", "export", str(run.id), "--format", "pain001", "--out", str(out), "--as", "kim")
    document = etree.parse(str(out))
    etree.XMLSchema(etree.parse(str(SCHEMA_FILE))).assertValid(document)
    assert Decimal(document.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS)) == payouts["alice"]
    assert document.findtext(".//p:DbtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == "110-999-888777"
    (e2e,) = [i.end_to_end_id for i in register.items(run.id) if i.end_to_end_id]

    folder = onett.home / "bank_statements"
    folder.mkdir()
    header = "end_to_end_id,amount,currency,status,booked_on\n"
    (folder / "bad.csv").write_text(header + f"{e2e},{payouts['alice'] + 1},KRW,paid,2026-10-05\n"
                                    "NOPE-1,10,KRW,paid,2026-10-05\n")
    def sensor():
        return bank_statement_sensor(build_sensor_context(instance=session.instance, resources={"payments": register}))

    request = sensor()
    assert isinstance(request, RunRequest) and sensor().run_key == request.run_key  # one run per set of files
    result = session.run("settle_payments")
    description, metadata = _failure(result)
    assert "line 2" in description and "line 3: NOPE-1: no payment has this end-to-end id" in description
    assert "bad.csv" in metadata["refused"]
    assert {i.status for i in register.items(run.id) if i.end_to_end_id} == {"sent"}  # nothing applied

    (folder / "bad.csv").unlink()
    (folder / "good.csv").write_text(header + f"{e2e},{payouts['alice']},KRW,paid,2026-10-05\n")
    result = session.run("settle_payments")
    assert result.success and "good.csv" in run_metadata(result, "payment_settlements", "statements applied")
    assert register.run(run.id).state == "settled" and isinstance(sensor(), SkipReason)
    assert session.run("settle_payments").success  # the same file again: seen before, harmless
    assert run_metadata(session.run("settle_payments"), "payment_settlements", "statements seen before") == 1
    shown = onett.ok("payments", "show", str(run.id))
    assert "settled" in shown and "paid" in shown and "held" in shown
