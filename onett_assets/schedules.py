"""The monthly close (ratios and payouts of the month that just ended) and the daily recitation check."""

from datetime import timedelta

from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule

from onett_assets.jobs import check_recitations, close_period
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


def daily_recitation_check(policy: Policy) -> ScheduleDefinition:
    """00:30 in the platform time zone: the day that just ended, once its output logs are complete."""

    @schedule(job=check_recitations, cron_schedule="30 0 * * *", execution_timezone=policy.timezone,
              default_status=DefaultScheduleStatus.RUNNING)
    def daily_recitation_check(context: ScheduleEvaluationContext) -> RunRequest:
        """Checks the previous day's model outputs against contributed text (recitation_incidents)."""
        key = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
        return RunRequest(partition_key=key, run_key=f"recitations@{key}")

    return daily_recitation_check
