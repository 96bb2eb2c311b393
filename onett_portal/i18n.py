"""Korean and English interface text, and numbers formatted for the language and the currency.

Korean is the default (and what a Korean browser gets); `?lang=en` or the language link switches and is
remembered in a cookie. Text the pipeline writes (rejection reasons, rule details) is shown as written."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

LANGS = ("ko", "en")
DEFAULT_LANG = "ko"

STAGES = {
    "raw": ("원본", "raw"),
    "normalized": ("정규화", "normalized"),
    "length": ("길이", "length"),
    "language": ("언어", "language"),
    "gopher_quality": ("품질", "quality"),
    "gopher_repetition": ("반복", "repetition"),
    "line_rules": ("줄 규칙", "line rules"),
    "filler": ("자동 생성 문구", "filler"),
    "exact_dedup": ("완전 중복", "exact duplicates"),
    "near_dedup": ("유사 중복", "near duplicates"),
    "reference_match": ("참조 일치", "reference match"),
    "known_text": ("이미 알려진 텍스트", "text already known"),
    "repeated_passages": ("이미 제출된 문단", "passages contributed earlier"),
    "accepted": ("인정", "accepted"),
    "withdrawn": ("철회", "withdrawn"),
    "terms_expired": ("이용 기간 만료", "terms expired"),
}

STAGE_MEANINGS_KO = {
    "raw": "업로드한 그대로 읽은 문서와 그 토큰",
    "normalized": "유니코드 정리와 개인정보 가림 후의 같은 문서",
    "length": "비어 있거나 너무 짧거나 너무 긴 문서를 뺀 뒤",
    "language": "지급 대상이 아닌 언어의 문서를 뺀 뒤",
    "gopher_quality": "글처럼 읽히지 않는 문서(단어 길이, 기호, 목록, 불용어)를 뺀 뒤",
    "gopher_repetition": "줄·문단·구절을 되풀이하는 문서를 뺀 뒤",
    "line_rules": "상용구 줄(메뉴, 코드, 약관 안내)로 된 문서를 뺀 뒤",
    "filler": "기계가 만든 채움 문구(무작위 음절, 뒤섞인 단어, lorem ipsum, 키워드 반복)를 뺀 뒤",
    "exact_dedup": "먼저 제출된 문서(내 것이든 다른 기여자 것이든)의 완전한 복사본을 뺀 뒤",
    "near_dedup": "먼저 제출된 문서를 조금 고친 유사 복사본을 뺀 뒤",
    "reference_match": "소비자가 이미 가진 텍스트나 공개 텍스트(와 그 유사본)를 뺀 뒤",
    "known_text": "이미 알려진 텍스트(먼저 제출된 문서 — 내 것이든 누구의 것이든 —, 소비자가 가진 텍스트, 공개 텍스트)의 "
                  "완전한 복사본과 유사 복사본을 뺀 뒤",
    "repeated_passages": "새 문서 안에서 이미 제출된(누구의 것이든) 문단이나 소비자가 가진 문단을 뺀 뒤",
    "accepted": "기여자에게 인정된 문서와 토큰",
    "withdrawn": "폴더에서 삭제(철회)된 파일의 문서를 뺀 뒤",
}

STRINGS: dict[str, tuple[str, str]] = {
    # (Korean, English)
    "app_title": ("onett 기여자 포털", "onett contributor portal"),
    "nav_dashboard": ("대시보드", "Dashboard"),
    "nav_uploads": ("업로드", "Uploads"),
    "nav_operator": ("전체 기여자", "All contributors"),
    "nav_revenue": ("매출 업로드", "Revenue"),
    "sign_out": ("로그아웃", "Sign out"),
    "signed_in_as": ("{name} 님", "Signed in as {name}"),
    "switch_lang": ("English", "한국어"),
    "other_lang": ("en", "ko"),
    "skip_to_content": ("본문으로 건너뛰기", "Skip to content"),
    # sign in
    "sign_in": ("로그인", "Sign in"),
    "account_name": ("계정 이름", "Account name"),
    "password": ("비밀번호", "Password"),
    "sign_in_help": ("계정은 운영자가 만들어 드립니다.", "Accounts are created by an operator."),
    "bad_credentials": ("계정 이름 또는 비밀번호가 올바르지 않습니다.", "Wrong account name or password."),
    "too_many_attempts": ("로그인 시도가 너무 많습니다. {wait} 후에 다시 시도하세요.",
                          "Too many attempts; try again in {wait}."),
    "n_seconds": ("{n}초", "{n} second(s)"),
    "n_minutes": ("{n}분", "{n} minute(s)"),
    "form_expired": ("양식이 만료되었습니다. 다시 시도하세요.", "This form has expired; please try again."),
    "signed_out": ("로그아웃되었습니다.", "You are signed out."),
    "session_expired": ("로그인이 필요합니다 (세션이 만료되었을 수 있습니다).",
                        "Please sign in (your session may have expired)."),
    # freshness
    "busy_title": ("숫자를 갱신하는 중입니다", "The numbers are being updated"),
    "busy_text": ("처리 작업이 데이터 창고에 쓰는 중입니다. 이 페이지는 몇 초 뒤 자동으로 새로 고쳐집니다.",
                  "A processing run is writing the warehouse. This page refreshes automatically in a few seconds."),
    "stale_note": ("{time} 기준 숫자입니다. 지금 갱신 중이며 곧 새 숫자가 나옵니다.",
                   "Numbers as of {time}; they are being updated and will refresh shortly."),
    "not_found": ("찾을 수 없습니다", "Not found"),
    "not_found_text": ("이 주소에는 보여 드릴 것이 없습니다.", "There is nothing to show at this address."),
    "back_home": ("처음으로", "Back to the start"),
    # dashboard
    "dashboard_title": ("{contributor} 대시보드", "{contributor}: dashboard"),
    "metric_ratio": ("데이터 기여 비율", "Data contribution ratio"),
    "metric_tokens": ("기여 토큰 수", "Contribution token count"),
    "metric_reward": ("현재 보상액", "Current monetary reward"),
    "metric_expected": ("예상 지급액", "Expected payout"),
    "metric_ratio_help": ("전체 {total} 토큰 중 {mine} 토큰", "{mine} of all {total} tokens"),
    "metric_tokens_help": ("전처리를 통과해 인정된 토큰", "tokens credited after preprocessing"),
    "metric_reward_help": ("마감된 달의 지급액 합계", "paid for closed months, in total"),
    "metric_expected_help": ("{month}분, {date} 지급 예정", "for {month}, paid after {date}"),
    "no_data_yet": ("아직 처리된 업로드가 없습니다. 파일을 올리면 여기에 숫자가 나타납니다.",
                    "No processed uploads yet. Upload files and your numbers appear here."),
    "upload_now": ("파일 올리기", "Upload files"),
    "funnel_title": ("전처리 단계별 토큰", "Your tokens through preprocessing"),
    "funnel_help": ("각 단계 뒤에 남은 내 문서와 토큰입니다 (내 업로드 전체).",
                    "Documents and tokens of yours left after each stage (all your uploads)."),
    "stage": ("단계", "Stage"),
    "documents": ("문서", "Documents"),
    "docs_unit": ("문서", "documents"),
    "tokens": ("토큰", "Tokens"),
    "meaning": ("의미", "Meaning"),
    "removed_title": ("문서가 제외된 이유 (내 문서만)", "Why documents were removed (your documents only)"),
    "rule": ("규칙", "Rule"),
    "example": ("예", "Example"),
    "nothing_removed": ("제외된 문서가 없습니다.", "No document was removed."),
    "withdrawn_title": ("폴더에서 삭제된 파일", "Files removed from your folder"),
    "withdrawn_on": ("삭제 확인일", "Seen removed on"),
    "tokens_stopped": ("지급이 멈춘 토큰", "Tokens that stopped earning"),
    "revenue_title": ("소비자의 API 사용량과 매출", "The consumer's API usage and revenue"),
    "revenue_help": ("일별 매출(막대)과 요청 수(선). 매출의 α 몫이 기여자들에게 토큰 비율대로 나뉩니다.",
                     "Revenue per day (bars) and requests (line). The alpha share of the revenue is split "
                     "among contributors by their tokens."),
    "month": ("월", "Month"),
    "show": ("보기", "Show"),
    "legend_revenue": ("매출", "revenue"),
    "legend_requests": ("요청 수", "requests"),
    "no_revenue": ("이 달에는 보고된 매출이 없습니다.", "No revenue reported for this month."),
    "how_reward": ("내 보상은 이렇게 계산되었습니다", "How this became your reward"),
    "line_revenue": ("{month} 매출 R_API", "Revenue R_API of {month}"),
    "line_alpha": ("기여자 몫 α", "Contributors' share alpha"),
    "line_pool": ("지급 풀 = R_API × α (최소 단위로 내림)", "Pool = R_API × alpha (rounded down)"),
    "line_ratio": ("내 기여 비율 T_i / ΣT_j", "Your ratio T_i / ΣT_j"),
    "line_payout": ("내 지급액 = 풀 × 내 비율", "Your payout = pool × your ratio"),
    "line_adjustment": ("(이전 달 조정 포함 {amount})", "(includes adjustments of earlier months: {amount})"),
    "line_not_paid": ("이 달에는 인정된 토큰이 없어 지급이 없습니다.", "No accepted tokens this month: no payout."),
    "line_open": ("아직 마감되지 않은 달입니다: 지금까지 {days}/{days_in_month}일 보고, 매출 {so_far}.",
                  "This month is still open: {days}/{days_in_month} days reported so far, revenue {so_far}."),
    "line_open_share": ("지금 내 비율은 {share}입니다 (위의 예상 지급 참조).",
                        "Your ratio now: {share} (see the expected payout above)."),
    "usage_summary": ("{month}: 요청 {requests}건, 입력 토큰 {input}, 출력 토큰 {output}, 매출 {revenue}",
                      "{month}: {requests} requests, {input} input and {output} output tokens, revenue {revenue}"),
    "expected_title": ("다음 예상 지급", "Expected next payout"),
    "expected_text": ("{month}분 예상 지급액은 {amount}이며, {date} 03:00({tz}) 월 마감 때 확정되어 지급됩니다.",
                      "Expected payout for {month}: {amount}, fixed and paid at the monthly close, "
                      "03:00 on {date} ({tz})."),
    "expected_closed": ("{month}은 이미 마감되었습니다.", "{month} is already closed."),
    "how_estimated": ("추정 방법", "How it is estimated"),
    "basis_observed": ("이번 달 보고된 {days}일의 일평균 매출 {daily}을 남은 {left}일에 적용",
                       "the average daily revenue of the {days} reported day(s) this month, {daily}, "
                       "for the {left} day(s) still to come"),
    "basis_lookback": ("이번 달 보고가 아직 없어 직전 최대 30일의 일평균 매출 {daily}을 적용",
                       "no day of this month reported yet: the average daily revenue of the last (up to 30) "
                       "reported days, {daily}"),
    "basis_none": ("아직 보고된 매출이 없습니다", "no revenue reported yet"),
    "estimate_formula": ("예상 매출 {estimated} ({so_far} 보고됨 + 추정) × α {alpha} × 내 비율 {share}",
                         "estimated revenue {estimated} ({so_far} reported + estimated) × alpha {alpha} × your ratio {share}"),
    "pending_adjustments": ("마감된 달 재계산으로 생긴 조정 {amount} 포함", "includes {amount} of adjustments of closed months"),
    "history_title": ("월별 지급 내역", "Payout history"),
    "history_help": ("마감된 각 달의 지급액과 명세서입니다.", "Each closed month's payout, with its statement."),
    "ratio": ("비율", "Ratio"),
    "amount": ("지급액", "Amount"),
    "adjustment": ("조정", "Adjustment"),
    "state": ("상태", "State"),
    "statement": ("명세서", "Statement"),
    "csv": ("CSV", "CSV"),
    "printable": ("인쇄용", "Printable"),
    "all_months_csv": ("전체 내역 CSV 내려받기", "Download all months (CSV)"),
    "no_history": ("아직 마감된 달이 없습니다.", "No month has been closed yet."),
    "month_open": ("진행 중", "open"),
    "month_closed": ("마감", "closed"),
    "month_paid": ("지급 완료", "paid"),
    # uploads
    "uploads_title": ("파일 업로드", "Upload files"),
    "uploads_help": ("허용 형식: {types}. 파일당 최대 {mb} MB. 여러 파일을 한 번에 고를 수 있습니다.",
                     "Allowed: {types}. Up to {mb} MB per file. You can choose several files at once."),
    "uploads_format_help": ("JSONL은 한 줄에 하나의 JSON 객체(text 필드 필수), CSV와 Parquet은 text 열, "
                            "TXT·MD는 파일 하나가 문서 하나입니다. 새 파일은 보통 1분 안에 처리됩니다.",
                            "JSONL: one JSON object per line with a text field; CSV and Parquet: a text column; "
                            ".txt and .md: one document per file. New files are usually processed within a minute."),
    "choose_files": ("파일 선택", "Choose files"),
    "upload": ("업로드", "Upload"),
    "uploading": ("업로드 중", "uploading"),
    "uploaded": ("업로드 완료: {name}", "Uploaded: {name}"),
    "uploaded_as": ("{name} ({saved}(으)로 저장)", "{name} (saved as {saved})"),
    "upload_failed": ("업로드 실패", "Upload failed"),
    "type_not_allowed": ("{name}: 허용되지 않는 파일 형식입니다 (허용: {types}).",
                         "{name}: this file type is not accepted (allowed: {types})."),
    "too_large": ("{name}: 파일이 너무 큽니다 (파일당 최대 {mb} MB).", "{name}: the file is too large (at most {mb} MB per file)."),
    "empty_file": ("{name}: 빈 파일입니다.", "{name}: the file is empty."),
    "bad_name": ("파일 이름을 쓸 수 없습니다.", "The file name cannot be used."),
    "bad_form": ("업로드를 읽을 수 없습니다. 다시 시도하세요.", "The upload could not be read; please try again."),
    "storage_failed": ("플랫폼 쪽 저장 공간 문제로 업로드를 저장하지 못했습니다. 받지 못한 파일은 저장되지 않았으니 잠시 뒤 다시 올려 주세요. "
                       "운영자에게 기록되었습니다.",
                       "The platform could not store the upload (a fault in its storage, not in your file). Files not "
                       "confirmed were not kept: please upload them again later. The operators have been told."),
    "bad_folder": ("업로드 폴더에 문제가 있습니다. 운영자에게 알려 주세요.", "The upload folder has a problem; please tell an operator."),
    "csrf": ("양식이 만료되었습니다. 페이지를 새로 고친 뒤 다시 시도하세요.", "This form has expired; reload the page and try again."),
    "too_many_files": ("한 번에 최대 {limit}개 파일까지 올릴 수 있습니다.", "At most {limit} files at once."),
    "name_taken": ("{name}: 같은 이름의 파일이 너무 많습니다.", "{name}: too many files of that name."),
    "refused": ("{name}: 받지 않았습니다: {reason}", "{name}: not accepted: {reason}"),
    "no_files": ("선택한 파일이 없습니다.", "No file was chosen."),
    "files_title": ("내 파일", "Your files"),
    "files_help": ("처리 상태는 저절로 새로 고쳐집니다.", "States refresh by themselves."),
    "file": ("파일", "File"),
    "size": ("크기", "Size"),
    "submitted": ("제출 시각", "Submitted"),
    "detail": ("자세히", "Details"),
    "no_files_yet": ("아직 올린 파일이 없습니다.", "You have not uploaded any file yet."),
    "state_waiting": ("대기 중", "waiting"),
    "state_waiting_help": ("곧 처리됩니다 (30초마다 새 파일을 확인합니다).", "will be processed shortly (new files are picked up every 30 s)."),
    "state_processing": ("처리 중", "processing"),
    "state_accepted": ("승인: {tokens} 토큰", "accepted: {tokens} tokens"),
    "state_partially accepted": ("부분 승인: {tokens} 토큰", "partially accepted: {tokens} tokens"),
    "state_rejected": ("거부됨", "rejected"),
    "state_duplicate upload": ("중복 업로드", "duplicate upload"),
    "state_withdrawn": ("철회됨", "withdrawn"),
    "zero_tokens_help": ("읽은 문서 {docs}개 중 토큰이 인정된 문서가 없습니다 (대시보드의 제외 이유 참조).",
                         "none of the {docs} document(s) read earned tokens (see why on your dashboard)."),
    "docs_read": ("문서 {docs}개 읽음", "{docs} document(s) read"),
    "docs_skipped": ("{n}개 건너뜀", "{n} skipped"),
    "file_gone": ("폴더에서 삭제됨", "no longer in your folder"),
    "uploaded_by": ("포털에서 {who} 님이 올림", "uploaded in the portal by {who}"),
    # operator
    "operator_title": ("전체 기여자와 월별 지급", "All contributors and monthly payouts"),
    "contributor": ("기여자", "Contributor"),
    "paid_total": ("누적 지급액", "Paid in total"),
    "last_payout": ("마지막 지급 월", "Last paid month"),
    "files": ("파일", "Files"),
    "rejected_files": ("거부 {n}", "{n} rejected"),
    "lineage": ("계보 (Dagster)", "Lineage (Dagster)"),
    "open_in_dagster": ("Dagster UI에서 계보 보기", "Lineage in the Dagster UI"),
    "months_title": ("월별 상태", "Months"),
    "revenue": ("매출", "Revenue"),
    "pool": ("지급 풀", "Pool"),
    "allocated": ("배분", "Allocated"),
    "days_reported": ("보고 일수", "Days reported"),
    "mark_paid": ("지급 완료로 표시", "Mark paid"),
    "marked_paid": ("{month}을 지급 완료로 표시했습니다.", "{month} is marked paid."),
    "cannot_mark_open": ("마감되지 않은 달은 지급 완료로 표시할 수 없습니다.", "A month that is not closed cannot be marked paid."),
    "paid_by": ("{who}, {when}", "{who}, {when}"),
    "total": ("합계", "Total"),
    "expected_for": ("{month} 예상", "Expected for {month}"),
    "view": ("보기", "View"),
    "viewing_as_operator": ("운영자로서 {contributor}의 화면을 보고 있습니다.", "You are viewing {contributor}'s page as an operator."),
    "revenue_page_title": ("소비자 매출 업로드", "Upload the consumer's revenue"),
    "revenue_upload_help": ("일별 사용량 CSV: 머리글 {header}. revenue는 {currency} 단위의 십진수. 같은 날을 두 번 보고하면 거부됩니다. 1분 안에 적재됩니다.",
                            "Daily usage CSV with the header {header}; revenue is a decimal amount in {currency}. "
                            "A day reported twice is refused. Loaded within a minute."),
    "revenue_files_title": ("매출 파일", "Revenue files"),
    "loaded": ("적재됨: {days}일, {first} ~ {last}, {amount}", "loaded: {days} day(s), {first} to {last}, {amount}"),
    "not_loaded": ("적재 대기", "waiting to be loaded"),
    "revenue_saved": ("{name} 저장됨. 곧 적재됩니다.", "{name} saved; it is loaded shortly."),
    "generated_at": ("{time} 작성", "generated {time}"),
    "print": ("인쇄", "Print"),
    "statement_title": ("{month} 지급 명세서", "Payout statement for {month}"),
    "statement_tokens": ("내 인정 토큰 T_i", "Your accepted tokens T_i"),
    "statement_all_tokens": ("전체 기여자 토큰 ΣT_j", "All contributors' tokens ΣT_j"),
    "closed_on": ("마감 시각", "Closed at"),
    "currency": ("통화", "Currency"),
    # agreement
    "nav_agreement": ("기여자 동의서", "Agreement"),
    "nav_releases": ("학습 데이터 릴리스", "Releases"),
    "agreement_title": ("기여자 동의서 (버전 {version})", "Contributor agreement (version {version})"),
    "agreement_needed": ("업로드하기 전에 기여자 동의서 버전 {version}을 읽고 수락해 주세요. 수락하기 전에는 "
                         "업로드를 받지 않고, 이미 올린 파일도 처리되지 않습니다.",
                         "Please read and accept the contributor agreement, version {version}, before uploading. "
                         "Until you do, uploads are refused and files already uploaded are not processed."),
    "agreement_read": ("동의서 읽고 수락하기", "Read and accept the agreement"),
    "agreement_required": ("기여자 동의서 버전 {version}을 먼저 수락해야 업로드할 수 있습니다. 파일은 저장되지 "
                           "않았습니다.",
                           "Accept the contributor agreement, version {version}, before uploading; the files were "
                           "not saved."),
    "agreement_published_on": ("{date} 게시", "published {date}"),
    "agreement_defaults": ("내 업로드의 기본 이용 조건", "Default terms for your uploads"),
    "agreement_defaults_help": ("약관을 따로 정하지 않은 파일에 적용됩니다. 업로드할 때마다 파일별로 바꿀 수 있습니다.",
                                "They apply to files uploaded without terms of their own; you can choose other "
                                "terms with each upload."),
    "agreement_accept": ("동의하고 수락합니다", "I agree and accept"),
    "agreement_accepted": ("{date}에 버전 {version}을 수락했습니다 ({who}). 기본 조건: {usage}, 평가 사용 {evaluation}.",
                           "You accepted version {version} on {date} ({who}). Default terms: {usage}, "
                           "evaluation {evaluation}."),
    "agreement_thanks": ("기여자 동의서 버전 {version}을 수락했습니다. 이제 업로드할 수 있습니다.",
                         "You accepted the contributor agreement, version {version}; you can upload now."),
    "agreement_changed": ("그사이 새 동의서 버전 {version}이 게시되었습니다. 새 버전을 읽고 다시 수락해 주세요.",
                          "A new agreement version, {version}, was published meanwhile; please read it and accept "
                          "again."),
    "none_published": ("게시된 동의서가 없습니다. 업로드는 플랫폼 기본 조건으로 처리됩니다.",
                       "No agreement is published: uploads are read under the platform's default terms."),
    "publish_title": ("새 버전 게시", "Publish a new version"),
    "publish_help": ("게시된 버전은 바뀌지 않습니다. 게시 뒤에 올라온 파일은 기여자가 새 버전을 수락해야 처리됩니다.",
                     "Published versions never change. Files submitted after publication are read only once "
                     "their contributor has accepted the new version."),
    "version": ("버전", "Version"),
    "agreement_text": ("본문", "Text"),
    "publish": ("게시", "Publish"),
    "published": ("버전 {version}을 게시했습니다.", "Version {version} is published."),
    "publish_refused": ("게시하지 못했습니다: {reason}", "Not published: {reason}"),
    "acceptance_log": ("수락 기록", "Acceptances"),
    "no_acceptances": ("아직 수락한 기여자가 없습니다.", "No contributor has accepted yet."),
    "accepted_by": ("수락한 계정", "Accepted by"),
    "accepted_at": ("수락 시각", "When"),
    "accepted_from": ("접속 위치", "From"),
    "default_usage": ("기본 이용 범위", "Default usage"),
    "evaluation": ("평가 사용", "Evaluation"),
    "yes": ("예", "yes"),
    "no": ("아니요", "no"),
    # terms of an upload
    "terms_title": ("이 파일들의 이용 조건", "Terms for these files"),
    "terms_help": ("선택한 조건은 파일마다 약관 파일(.terms.json)로 함께 저장됩니다. 재배포는 어떤 경우에도 허용되지 "
                   "않습니다.",
                   "The terms you choose are saved beside each file (.terms.json). Redistribution is never "
                   "allowed."),
    "usage": ("이용 범위", "Usage"),
    "evaluation_allowed": ("평가(벤치마크)에 사용해도 됩니다", "Evaluation (benchmarks) allowed"),
    "expires": ("이용 종료일 (선택)", "Usable until (optional)"),
    "expires_help": ("이 날짜가 지나면 해당 월 말부터 보상과 학습 데이터에서 빠집니다.",
                     "After this date the files stop earning and leave the training data from that month's end."),
    "rights_attested": ("올리는 글에 대한 권리를 제가 가지고 있습니다", "I hold the rights to the text I upload"),
    "rights_required": ("올리는 글에 대한 권리를 가지고 있다는 확인이 필요합니다. 파일은 저장되지 않았습니다.",
                        "Please confirm you hold the rights to the text; the files were not saved."),
    "rights_required_agreement": ("올리는 글에 대한 권리를 가지고 있다는 확인이 필요합니다.",
                                  "Please confirm you hold the rights to the text you upload."),
    "terms_invalid": ("이용 조건을 받을 수 없습니다: {reason}. 파일은 저장되지 않았습니다.",
                      "These terms cannot be accepted: {reason}; the files were not saved."),
    "expires_past": ("이용 종료일 {date}이(가) 이미 지났습니다. 파일은 저장되지 않았습니다.",
                     "The end date {date} is in the past; the files were not saved."),
    "unknown_usage": ("알 수 없는 이용 범위입니다: {usage}", "Unknown usage: {usage}"),
    "terms_of_file": ("조건: {terms}", "terms: {terms}"),
    # erasure
    "erase": ("파기", "Erase"),
    "erase_help": ("이 파일의 모든 사본(업로드 폴더, 보관본, 처리 결과, 릴리스)을 파기합니다. 되돌릴 수 없습니다.",
                   "Destroys every copy of this file (upload folder, archive, processed data, releases). "
                   "This cannot be undone."),
    "erase_reason": ("이유 (기록에 남습니다)", "Reason (kept with the record)"),
    "erase_confirm": ("파기 요청", "Request erasure"),
    "erase_taken": ("{file}: 파기 요청을 받았습니다. 폴더에서 {removed}개 파일을 지우고 보관본 {copies}개를 "
                    "파기했습니다. 나머지는 다음 처리 때 끝납니다.",
                    "{file}: erasure requested. {removed} file(s) removed from the folder and {copies} archived "
                    "cop(ies) destroyed; the rest finishes with the next processing run."),
    "erase_refused": ("{file}: 파기하지 못했습니다: {reason}", "{file}: not erased: {reason}"),
    "erase_reason_required": ("파기 이유를 적어 주세요.", "Please give a reason for the erasure."),
    "erase_busy": ("처리 작업이 데이터 창고를 쓰고 있어 지금은 파기할 수 없습니다. 잠시 뒤 다시 시도하세요.",
                   "A processing run is writing the warehouse; please try the erasure again in a moment."),
    "contributor_files": ("{contributor}의 파일", "{contributor}'s files"),
    "state_held": ("보류: 동의·약관 필요", "on hold: consent or terms"),
    "state_held_help": ("동의서를 수락하거나 약관 파일을 고치면 처리됩니다.",
                        "It is processed once the agreement is accepted or its terms file is fixed."),
    "state_erased": ("파기됨", "erased"),
    # releases
    "releases_title": ("학습 데이터 릴리스", "Training data releases"),
    "releases_help": ("매달 소비자에게 넘기는 학습 데이터입니다. 파일은 매니페스트에 적힌 것만 내려받을 수 있습니다.",
                      "The monthly training data for the consumer. Only files listed in a release's manifest "
                      "can be downloaded."),
    "no_releases": ("아직 만든 릴리스가 없습니다.", "No release has been cut yet."),
    "release": ("릴리스", "Release"),
    "shards": ("샤드", "Shards"),
    "megabytes": ("MB", "MB"),
    "removed_counts": ("제외 (사유별)", "Removed (by reason)"),
    "cut_at": ("생성 시각", "Cut at"),
    "downloads": ("내려받기", "Downloads"),
    "removed_withdrawn": ("철회 {n}", "withdrawn {n}"),
    "removed_erased": ("파기 {n}", "erased {n}"),
    "removed_expired": ("기간 만료 {n}", "expired {n}"),
    "removed_no_longer_credited": ("인정 취소 {n}", "no longer credited {n}"),
    "removed_since": ("{release} 이후", "since {release}"),
    # 1T Club membership
    "nav_membership": ("1T 클럽", "1T Club"),
    "membership_title": ("1T 클럽 회원", "1T Club membership"),
    "recitation_title": ("원문 유출 점검", "Recitation check"),
    "recitation_count": ("{month}에 모델 출력이 내 텍스트를 그대로 인용한 횟수: {n}회",
                         "Your text was recited verbatim in the model's outputs {n} times in {month}"),
    "recitation_how": ("소비자의 모델 출력을 매일 기여된 텍스트와 비교합니다. 길게(기본 토큰 50개 이상) 그대로 일치하는 "
                       "구간만 인용으로 셉니다. 아래에는 최근 구간과 그 구간을 가진 내 문서가 나옵니다.",
                       "Every day the consumer's model outputs are compared with contributed text; only long spans "
                       "that match verbatim count (50 tokens or more by default). The latest spans are listed with "
                       "your document holding each."),
    "recitation_when": ("출력 시각", "Output at"),
    "recitation_request": ("요청 ID", "Request id"),
    "recitation_document": ("내 문서", "Your document"),
    "recitation_operator": ("{month} 기여자별 인용 횟수(출력 수, 구간 수)",
                            "Recitations per contributor in {month} (outputs, spans)"),
    "recitation_outputs": ("출력", "outputs"),
    "recitation_spans": ("구간", "spans"),
    "recitation_none": ("이번 달에는 인용이 없습니다.", "No recitations this month."),
    # 1T Club API credit
    "credit_title": ("무료 API 토큰", "Free API tokens"),
    "credit_feed_errors": ("사용량 피드에 고칠 곳이 {n}개 있습니다. 고치기 전에는 사용량을 반영하지 않습니다 (아무것도 일부만 "
                           "반영되지 않습니다):",
                           "The usage feed has {n} problem(s) to fix; until then no usage is applied (nothing half-way):"),
    "credit_rule": ("새로 인정된 토큰 1개마다 API 토큰 {ratio}개가 다음 달 1일부터 무료로 제공됩니다.",
                    "Each newly credited token gives {ratio} free API token(s), usable from the 1st of the next month."),
    "credit_expiry": ("제공된 토큰은 {months}개월 뒤에 만료됩니다.", "They expire {months} months later."),
    "credit_no_expiry": ("만료되지 않습니다.", "They never expire."),
    "credit_granted": ("제공", "Granted"),
    "credit_used": ("사용", "Used"),
    "credit_left": ("남음", "Left"),
    "credit_expiring_next": ("다음 만료", "Expiring next"),
    "credit_expiring": ("{date}에 {tokens}개", "{tokens} on {date}"),
    "credit_nothing_expiring": ("없음", "nothing"),
    "credit_value_used": ("사용한 무료 토큰의 가치: {value} (그 달의 평균 청구 단가 기준, 매출에는 더해지지 않습니다).",
                          "Value of the free tokens used: {value} (at each month's average billed price; it adds "
                          "nothing to the revenue)."),
    "credit_billable": ("무료 토큰을 넘은 사용 {tokens}개는 청구됩니다.", "{tokens} tokens used beyond them are billed."),
    "credit_billable_col": ("청구 대상", "Billable"),
    "credit_value_col": ("무료 사용의 가치", "Value of free usage"),
    "credit_corrections_col": ("정정(청구)", "Corrections (billable)"),
    "credit_no_price": ("단가 없음", "no price"),
    "credit_csv": ("무료 토큰 원장 CSV 내려받기", "Download the free-token ledger (CSV)"),
    "credit_operator_link": ("파트너별 청구 대상 사용량", "Billable usage per partner"),
    "credit_operator_title": ("API 무료 토큰과 청구 대상 사용량", "API credit and billable usage"),
    "credit_not_revenue": ("무료 토큰으로 처리된 사용은 청구되지 않으므로 매출(R_API)에 더해지지 않습니다.",
                           "Usage covered by free tokens is not billed, so it adds nothing to R_API."),
    "credit_show": ("보기", "Show"),
    "credit_billable_title": ("{month} 파트너별 사용량", "Usage per partner, {month}"),
    "credit_export_csv": ("청구용 CSV 내려받기", "Download the billing CSV"),
    "credit_used_all": ("전체 사용", "Used in all"),
    "credit_no_usage": ("아직 파트너 사용량이 없습니다.", "No partner usage yet."),
    "nav_credit": ("API 무료 토큰", "API credit"),
    "membership_words": ("기여한 단어 {words}개 / 기준 {threshold}개", "{words} of {threshold} words contributed"),
    "membership_progress": ("기준의 {pct}", "{pct} of the threshold"),
    "membership_how_counted": ("단어는 공백으로 나뉜 단위로 셉니다. 한국어는 어절(조사가 붙은 말, 예: \"출판사에서\") "
                               "하나가 한 단어입니다. 지금 보상을 받는 문서(인정되고 철회·만료·파기되지 않은 문서)만 "
                               "셉니다.",
                               "A word is a whitespace-separated unit of the credited text: a Korean eojeol (a word "
                               "with its particles, e.g. \"출판사에서\") is one word. Only documents earning now count "
                               "(accepted, not withdrawn, expired or erased)."),
    "membership_rule": ("기여한 단어가 {threshold}개를 넘으면 회원 가입을 신청할 수 있고, 운영자가 승인합니다.",
                        "Partners with more than {threshold} words contributed may apply; an operator decides."),
    "membership_members_only": ("매출 배분은 1T 클럽 회원에게만 지급됩니다.",
                                "The revenue share is paid to 1T Club members only."),
    "membership_uncounted": ("단어를 세기 전에 읽은 문서 {n}개는 아직 들어 있지 않습니다. 다음 집계 때 더해집니다.",
                             "{n} document(s) read before words were counted are not included yet; the next count "
                             "adds them."),
    "membership_not_eligible": ("아직 신청할 수 없습니다: 단어가 {left}개 더 필요합니다.",
                                "Not eligible yet: {left} more words needed."),
    "membership_eligible": ("신청할 수 있습니다.", "Eligible: you can apply."),
    "membership_pending": ("{date}에 신청했습니다. 운영자의 결정을 기다리는 중입니다.",
                           "Application pending since {date}; an operator decides."),
    "membership_member": ("회원입니다: {date}에 {who} 님이 승인했습니다.", "Member: approved on {date} by {who}."),
    "membership_declined": ("{date}에 {who} 님이 신청을 거절했습니다. 이유: {reason}",
                            "Declined on {date} by {who}. Reason: {reason}"),
    "membership_apply_again": ("다시 신청할 수 있습니다.", "You may apply again."),
    "membership_message": ("운영자에게 남길 말 (선택)", "Message to the operator (optional)"),
    "membership_apply": ("회원 가입 신청", "Apply for membership"),
    "membership_applied": ("신청했습니다. 운영자가 결정하면 여기에 나옵니다.",
                           "Your application is in; the decision will show here."),
    "membership_below": ("신청하지 못했습니다: 기여한 단어가 {threshold}개를 넘어야 합니다 (지금 {words}개).",
                         "Not applied: membership needs more than {threshold} words contributed (you have {words})."),
    "membership_already_pending": ("신청하지 못했습니다: {date}에 낸 신청이 아직 결정을 기다리고 있습니다.",
                                   "Not applied: your application of {date} is still pending."),
    "membership_already_member": ("신청하지 못했습니다: 이미 회원입니다.", "Not applied: you are a member already."),
    "membership_refused": ("신청하지 못했습니다: {reason}", "Not applied: {reason}"),
    "membership_busy": ("처리 작업이 데이터 창고를 쓰고 있어 지금은 단어 수를 확인할 수 없습니다. 잠시 뒤 다시 "
                        "신청하세요.",
                        "A processing run is writing the warehouse, so your words cannot be checked now; please "
                        "apply again in a moment."),
    "membership_manage": ("1T 클럽 회원 관리", "Manage 1T Club membership"),
    "membership_operator_title": ("1T 클럽 회원", "1T Club membership"),
    "membership_threshold": ("기준: 단어 {threshold}개 초과", "Threshold: more than {threshold} words"),
    "membership_everyone": ("기여자별 단어", "Words per contributor"),
    "words": ("단어", "Words"),
    "progress": ("진행", "Progress"),
    "status_not_eligible": ("자격 없음", "not eligible"),
    "status_eligible": ("신청 가능", "eligible"),
    "status_pending": ("결정 대기", "pending"),
    "status_member": ("회원", "member"),
    "status_declined": ("거절됨", "declined"),
    "membership_pending_title": ("결정을 기다리는 신청", "Pending applications"),
    "membership_no_pending": ("결정을 기다리는 신청이 없습니다.", "No application is pending."),
    "membership_decided_title": ("결정된 신청", "Decided applications"),
    "membership_no_decided": ("아직 결정된 신청이 없습니다.", "No application has been decided yet."),
    "applied": ("신청", "Applied"),
    "applied_by_at": ("{who}, {when}", "{who}, {when}"),
    "words_when_applying": ("신청 때 단어", "Words when applying"),
    "words_now": ("지금 단어", "Words now"),
    "message": ("남긴 말", "Message"),
    "decision": ("결정", "Decision"),
    "decided": ("결정한 사람과 시각", "Decided by, when"),
    "reason": ("이유", "Reason"),
    "decision_reason": ("이유 (기여자에게 보입니다)", "Reason (the contributor sees it)"),
    "approve": ("승인", "Approve"),
    "decision_approved": ("승인됨", "approved"),
    "decision_declined": ("거절됨", "declined"),
    "decline": ("거절", "Decline"),
    "membership_approved_ok": ("{contributor}의 신청을 승인했습니다.", "{contributor}'s application is approved."),
    "membership_declined_ok": ("{contributor}의 신청을 거절했습니다.", "{contributor}'s application is declined."),
    "membership_choose_decision": ("승인 또는 거절을 골라 주세요.", "Please choose approve or decline."),
    "membership_reason_required": ("결정 이유를 적어 주세요. 기여자에게 보입니다.",
                                   "Please give a reason for the decision; the contributor sees it."),
    "membership_not_decided": ("결정하지 못했습니다: {reason}", "Not decided: {reason}"),
    # disputed statements
    "nav_disputes": ("이의 제기", "Disputes"),
    "disputes_title": ("정산서 이의 제기", "Statement disputes"),
    "disputes_help": ("마감된 달의 정산서에 이의가 있으면 그 정산서 아래에서 제기할 수 있습니다. 운영자가 답하고, "
                      "변경 없음 또는 조정으로 마무리합니다. 조정은 다음에 마감되는 달의 지급에 더해지며 마감된 달은 "
                      "고치지 않습니다.",
                      "You can dispute a closed month's statement from that statement. The operator answers and "
                      "resolves it with no change or with an adjustment; an adjustment is paid with the next month "
                      "that closes, and a closed month is never edited."),
    "no_disputes": ("이의 제기가 없습니다.", "No disputes."),
    "dispute_this_statement": ("이 정산서에 대한 이의 제기", "Disputes about this statement"),
    "dispute_how": ("무엇이 틀렸다고 보시는지 적어 주세요. 운영자가 여기와 이의 제기 페이지에서 답합니다.",
                    "Say what you believe is wrong. The operator answers here and on the disputes page."),
    "dispute_message": ("내용", "Message"),
    "dispute_open_button": ("이의 제기", "Dispute this statement"),
    "dispute_follow": ("진행 중인 이의 제기 보기", "Follow your open dispute"),
    "dispute_about": ("{month} 정산서", "Statement of {month}"),
    "dispute_open": ("답변 대기", "waiting for an answer"),
    "dispute_answered": ("운영자 답변", "answered"),
    "dispute_resolved_no_change": ("종료: 변경 없음", "resolved: no change"),
    "dispute_resolved_adjustment": ("종료: 조정 {amount}", "resolved: adjustment of {amount}"),
    "dispute_adjustment_note": ("조정은 다음에 마감되는 달의 지급에 더해집니다.",
                                "The adjustment is paid with the next month that closes."),
    "dispute_reply": ("답장", "Reply"),
    "send": ("보내기", "Send"),
    "role_contributor": ("기여자", "contributor"),
    "role_operator": ("운영자", "operator"),
    "dispute_sent": ("보냈습니다. 운영자의 답은 여기에 나옵니다.", "Sent. The operator's answer will appear here."),
    "dispute_needs_message": ("내용을 적어 주세요.", "Please write a message."),
    "dispute_not_closed": ("아직 마감되지 않은 달입니다. 마감 전에는 수치가 바뀔 수 있어 이의 제기를 받지 않습니다.",
                           "This month is not closed yet; its numbers can still change, so it cannot be disputed."),
    "dispute_already_open": ("이 달에 대한 이의 제기가 이미 진행 중입니다. 그 스레드에 답장해 주세요.",
                             "A dispute about this month is already open; please reply in its thread."),
    "dispute_refused": ("처리하지 못했습니다: {reason}", "Not done: {reason}"),
    "disputes_operator_title": ("정산서 이의 제기", "Statement disputes"),
    "disputes_open_title": ("진행 중", "Open"),
    "disputes_operator_help": ("답변은 기여자에게 보입니다. 조정으로 마무리하면 다음 지급 계산 때 조정 내역에 기록되고 "
                               "다음에 마감되는 달에 지급됩니다 (음수는 회수).",
                               "Answers are shown to the contributor. Resolving with an adjustment records it with the "
                               "next payouts computed and pays it with the next month that closes (negative takes "
                               "back)."),
    "no_open_disputes": ("진행 중인 이의 제기가 없습니다.", "No dispute is open."),
    "disputes_resolved_title": ("종료됨", "Resolved"),
    "no_resolved_disputes": ("종료된 이의 제기가 없습니다.", "No dispute has been resolved yet."),
    "dispute_answer": ("답변", "Answer"),
    "dispute_resolution_message": ("마무리 말 (기여자에게 보입니다)", "Closing words (the contributor sees them)"),
    "dispute_no_change": ("변경 없음", "No change"),
    "dispute_with_adjustment": ("조정", "Adjustment"),
    "dispute_amount": ("조정 금액 ({currency})", "Adjustment amount ({currency})"),
    "dispute_resolve": ("마무리", "Resolve"),
    "dispute_resolved_by": ("{when}에 {who} 님이 마무리", "resolved by {who} on {when}"),
    "dispute_choose_resolution": ("변경 없음 또는 조정을 골라 주세요.", "Please choose no change or an adjustment."),
    "dispute_answered_ok": ("답변을 보냈습니다.", "The answer is sent."),
    "dispute_resolved_ok": ("이의 제기를 마무리했습니다.", "The dispute is resolved."),
    # payments: bank details, payment runs, bank statements
    "nav_payments": ("지급", "Payments"),
    "nav_payee": ("계좌", "Bank details"),
    "payments_title": ("지급 내역", "Payments"),
    "payee_link": ("지급받을 계좌 정보 보기·바꾸기", "View or change your bank details"),
    "payment_date": ("지급일", "Booked on"),
    "payments_none": ("아직 지급 실행이 없습니다.", "No payment run has listed you yet."),
    "payment_pending": ("지급 준비 중", "being prepared"),
    "payment_sent": ("은행에 보냄", "sent to the bank"),
    "payment_paid": ("지급 완료", "paid"),
    "payment_failed": ("지급 실패", "failed"),
    "payment_cancelled": ("취소됨", "cancelled"),
    "payment_carried": ("이월", "carried forward"),
    "payment_held": ("보류", "held back"),
    "payment_reason_carried": ("최소 지급액에 못 미쳐 다음 지급으로 이월됩니다.",
                               "Below the minimum payout: carried to the next payment run."),
    "payment_reason_held": ("확인된 계좌 정보가 없어 보류되었습니다. 계좌를 등록하면 운영자가 확인합니다.",
                            "Held back: no confirmed bank details. Enter them and an operator confirms them."),
    "payee_title": ("지급받을 계좌", "Your bank details"),
    "payee_current": ("등록된 계좌", "Bank details on file"),
    "payee_none": ("아직 등록한 계좌가 없습니다. 계좌가 없으면 지급이 보류됩니다.",
                   "You have entered no bank details yet; payments are held back until you do."),
    "payee_bank": ("은행", "Bank"),
    "payee_holder": ("예금주", "Account holder"),
    "payee_account": ("계좌번호", "Account number"),
    "payee_bank_code": ("은행 코드 또는 BIC (선택)", "Bank code or BIC (optional)"),
    "payee_account_help": ("국내 계좌번호(숫자 10~14자리, 하이픈 허용, 예: 123-456-789012) 또는 IBAN. 저장 후에는 끝 "
                           "네 자리만 보입니다.",
                           "A Korean account number (10 to 14 digits, hyphens allowed, e.g. 123-456-789012) or an "
                           "IBAN. Once saved, only its last four characters are shown."),
    "payee_confirmed": ("확인됨", "confirmed"),
    "payee_confirmed_on": ("{date}에 운영자가 확인했습니다.", "Confirmed by an operator on {date}."),
    "payee_unconfirmed": ("확인 대기", "waiting"),
    "payee_waiting": ("운영자가 확인한 뒤부터 이 계좌로 지급합니다.",
                      "Payments go to this account once an operator has confirmed it."),
    "payee_rules": ("계좌 정보는 암호화해 보관합니다. 지급액이 {minimum} 미만이면 다음 지급으로 이월됩니다.",
                    "Bank details are stored encrypted. Amounts below {minimum} are carried to the next payment."),
    "payee_enter": ("계좌 등록", "Enter bank details"),
    "payee_change": ("계좌 바꾸기", "Change bank details"),
    "payee_change_resets": ("바꾸면 운영자가 다시 확인할 때까지 지급이 보류됩니다.",
                            "A change holds payments back until an operator confirms it again."),
    "payee_save": ("저장", "Save"),
    "payee_saved": ("저장했습니다. 운영자가 확인하면 이 계좌로 지급합니다.",
                    "Saved. Payments go to this account once an operator confirms it."),
    "payee_refused": ("저장하지 못했습니다: {reason}", "Not saved: {reason}"),
    "payee_confirm": ("확인", "Confirm"),
    "payee_entered": ("등록", "Entered"),
    "payees_to_confirm": ("확인할 계좌", "Bank details to confirm"),
    "payees_none_to_confirm": ("확인을 기다리는 계좌가 없습니다.", "No bank details are waiting for confirmation."),
    "payees_confirmed_count": ("확인된 계좌: {n}개", "Confirmed payees: {n}"),
    "payments_operator_title": ("지급 실행", "Payment runs"),
    "payments_flow": ("마감 → 준비 → 다른 운영자의 승인 → 지급 파일 내려받기 → 은행 거래 내역 올리기.",
                      "Close -> prepare -> approval by another operator -> download the payment file -> upload the "
                      "bank statement."),
    "payments_prepare_title": ("지급 실행 준비", "Prepare a payment run"),
    "payments_prepare": ("준비", "Prepare"),
    "payments_nothing_to_prepare": ("준비할 마감된 달이 없습니다.", "No closed month without an active run."),
    "payments_runs_title": ("지급 실행 목록", "Payment runs"),
    "payments_no_runs": ("아직 지급 실행이 없습니다.", "No payment run yet."),
    "payments_run": ("지급 실행", "Run"),
    "payments_prepared_by": ("준비", "Prepared by"),
    "payments_approved_by": ("승인", "Approved by"),
    "payments_exported_by": ("내보냄", "Exported by"),
    "payments_cancelled_by": ("취소", "Cancelled by"),
    "payments_cancel": ("취소", "Cancel"),
    "payments_e2e": ("거래 식별번호", "End-to-end id"),
    "payments_run_summary": ("지급 {n}건, 합계 {amount}", "{n} payment(s), {amount} in total"),
    "payments_two_person_help": ("준비한 운영자와 다른 운영자가 승인해야 합니다.",
                                 "Another operator than the one who prepared it must approve it."),
    "payments_two_person": ("승인하지 못했습니다: 이 지급 실행은 {who} 님이 준비했습니다. 다른 운영자가 승인해야 "
                            "합니다.", "Not approved: {who} prepared this run; another operator must approve it."),
    "payments_download_pain001": ("pain.001 파일 내려받기", "Download pain.001"),
    "payments_download_csv": ("CSV 내려받기", "Download CSV"),
    "payments_month_open": ("{month}은 아직 마감되지 않아 지급을 준비할 수 없습니다.",
                            "{month} is not closed yet: no payment run can be prepared for it."),
    "payments_choose_month": ("달을 골라 주세요.", "Please choose a month."),
    "payments_refused": ("처리하지 못했습니다: {reason}", "Not done: {reason}"),
    "payments_done_prepared": ("지급 실행 #{run}을 준비했습니다. 다른 운영자의 승인을 기다립니다.",
                               "Run #{run} is prepared; it waits for another operator's approval."),
    "payments_done_approved": ("지급 실행 #{run}을 승인했습니다.", "Run #{run} is approved."),
    "payments_done_cancelled": ("지급 실행 #{run}을 취소했습니다.", "Run #{run} is cancelled."),
    "payments_done_confirmed": ("{contributor}의 계좌를 확인했습니다.", "{contributor}'s bank details are confirmed."),
    "payments_done_imported": ("은행 거래 내역을 반영했습니다.", "The bank statement is applied."),
    "payments_done_again": ("이미 반영한 파일입니다. 바뀐 것은 없습니다.",
                            "This file was imported before: nothing changed."),
    "payments_statement_title": ("은행 거래 내역 올리기", "Upload a bank statement"),
    "payments_statement_help": ("CSV: end_to_end_id,amount,currency,status,booked_on[,reason] (status: paid, failed, "
                                "rejected). 한 줄이라도 틀리면 아무것도 반영하지 않습니다.",
                                "CSV: end_to_end_id,amount,currency,status,booked_on[,reason] (status: paid, failed, "
                                "rejected). One bad line and nothing is applied."),
    "payments_import": ("올리기", "Upload"),
    "payments_imported": ("올린 사람·시각", "Imported"),
    "payments_lines": ("줄", "Lines"),
    "payments_applied": ("반영", "Applied"),
    "payments_choose_file": ("CSV 파일을 골라 주세요.", "Please choose a CSV file."),
    "payments_file_too_large": ("파일이 너무 큽니다 (최대 16 MB).", "The file is too large (16 MB at most)."),
    "payments_statement_refused": ("{name}: 문제 {n}건, 아무것도 반영하지 않았습니다. 고친 뒤 다시 올려 주세요.",
                                   "{name}: {n} problem(s), nothing applied. Fix them and upload it again."),
    "payments_statement_applied": ("{name}: 지급 {n}건을 반영했습니다.", "{name}: {n} payment(s) updated."),
    "payments_run_settled": ("지급 실행 #{run}이 끝났습니다 (모두 지급 또는 실패).",
                             "Run #{run} is settled (every payment paid or failed)."),
    "payments_audit_title": ("감사 기록", "Audit trail"),
    "audit_when": ("시각", "When"),
    "audit_who": ("누가", "Who"),
    "audit_what": ("무엇을", "What"),
    "audit_detail": ("내용", "Detail"),
    "run_prepared": ("승인 대기", "prepared"),
    "run_approved": ("승인됨", "approved"),
    "run_exported": ("은행에 보냄", "exported"),
    "run_settled": ("끝남", "settled"),
    "run_cancelled": ("취소됨", "cancelled"),
}

USAGE_LABELS = {
    "pretraining-only": ("사전 학습에만", "pre-training only"),
    "pretraining-and-finetuning": ("사전 학습과 미세 조정", "pre-training and fine-tuning"),
}


class Translator:
    def __init__(self, lang: str, currency: str, digits: int):
        self.lang = lang if lang in LANGS else DEFAULT_LANG
        self.currency, self.digits = currency, digits
        self._i = LANGS.index(self.lang)

    def __call__(self, key: str, **params) -> str:
        pair = STRINGS.get(key)
        text = pair[self._i] if pair else key
        return text.format(**params) if params else text

    # numbers ---------------------------------------------------------------------------------------------
    def num(self, n) -> str:
        return f"{int(n):,}"

    def amount(self, value) -> str:
        """The number alone, with the currency's minor digits, rounded down (money is never rounded up)."""
        quantum = Decimal(1).scaleb(-self.digits)
        return f"{Decimal(value).quantize(quantum, rounding=ROUND_DOWN):,.{self.digits}f}"

    def money(self, value) -> str:
        text = self.amount(value)
        if self.currency == "KRW":
            return f"{text}원" if self.lang == "ko" else f"₩{text}"
        return f"{text} {self.currency}"

    def pct(self, ratio, places: int = 4) -> str:
        return f"{Decimal(ratio) * 100:.{places}f}%"

    def month(self, value) -> str:
        d = date.fromisoformat(value + "-01") if isinstance(value, str) else value
        return f"{d.year}년 {d.month}월" if self.lang == "ko" else d.strftime("%b %Y")

    def day(self, value) -> str:
        d = date.fromisoformat(value) if isinstance(value, str) else value
        if isinstance(d, datetime):
            d = d.date()
        return f"{d.year}년 {d.month}월 {d.day}일" if self.lang == "ko" else d.strftime("%-d %b %Y")

    def moment(self, value: datetime, tz) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    def size(self, n: int) -> str:
        for unit in ("B", "KB", "MB", "GB"):
            if n < 1024 or unit == "GB":
                return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
            n /= 1024
        return str(n)

    def stage(self, name: str) -> str:
        pair = STAGES.get(name)
        return pair[self._i] if pair else name

    def usage(self, name: str) -> str:
        pair = USAGE_LABELS.get(name)
        return pair[self._i] if pair else name

    def stage_meaning(self, name: str, english: str) -> str:
        return STAGE_MEANINGS_KO.get(name, english) if self.lang == "ko" else english


def parse_accept_language(header: str) -> list[str]:
    """Language tags by preference (q values honoured), primary subtags only, lower case."""
    ranked = []
    for n, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            ranked.append((-q, n, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(ranked)]


def pick_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    for choice in (query, cookie):
        if choice in LANGS:
            return choice
    for tag in parse_accept_language(accept_language or ""):
        if tag in LANGS:
            return tag
    return DEFAULT_LANG
