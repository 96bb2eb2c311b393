"""The monthly close: ratios and payouts of the month that just ended."""

from datetime import timedelta

from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule

from onett_assets.jobs import close_period
from onett_domain.policy import Policy


def monthly_close(policy: Policy) -> ScheduleDefinition:
    """03:00 on the 1st in the platform time zone: late uploads of the last evening are in."""

    @schedule(job=close_period, cron_schedule="0 3 1 * *", execution_timezone=policy.timezone,
              default_status=DefaultScheduleStatus.RUNNING)
    def monthly_close(context: ScheduleEvaluationContext) -> RunRequest:
        """Closes the previous month: loads its revenue, computes ratios and payouts, runs the money checks."""
        ended = (context.scheduled_execution_time.replace(day=1) - timedelta(days=1)).replace(day=1)
        key = ended.strftime("%Y-%m-%d")
        return RunRequest(partition_key=key, run_key=f"close@{key}")

    return monthly_close
