"""Manage tags, as in the AWS console: a scheduler's tags as rows to edit; saving
sends what changed (UntagResource, then TagResource), as submissions, in this
process against a real local endpoint over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from scheduler_ui.schedulers import submitting
from scheduler_ui.schedulers.models import Operation, State, Submission
from tests.factories import make_submission
from tests.test_lifecycle import sent

NAME = "pump-scheduler"
PAGE = reverse("scheduler_tags", args=[NAME])


@pytest.fixture
def tagged(lookout) -> Submission:
    """A RUNNING scheduler the console created with the tags team=ops, env=dev."""
    created = make_submission(
        InferenceSchedulerName=NAME,
        Tags=[{"Key": "team", "Value": "ops"}, {"Key": "env", "Value": "dev"}],
    )
    submitting.submit_to_lookout(created.pk)
    submitting.follow_statuses()
    created.refresh_from_db()
    return created


def tags_on_the_endpoint(lookout, record: Submission) -> dict[str, str]:
    listed = lookout.client.list_tags_for_resource(ResourceArn=record.scheduler_arn)["Tags"]
    return {tag["Key"]: tag["Value"] for tag in listed}


def rows(*tags: tuple[str, str], deleted: tuple[int, ...] = ()) -> dict[str, Any]:
    """The tags page posted with these rows (key, value); `deleted` rows ticked Delete."""
    data: dict[str, Any] = {"tags-TOTAL_FORMS": len(tags), "tags-INITIAL_FORMS": len(tags)}
    for index, (key, value) in enumerate(tags):
        data[f"tags-{index}-key"] = key
        data[f"tags-{index}-value"] = value
        if index in deleted:
            data[f"tags-{index}-DELETE"] = "on"
    return data


def test_the_page_shows_the_current_tags_as_rows(operator_client, tagged):
    form = operator_client.get(PAGE).context["form"]

    assert [row.initial for row in form.tags.forms] == [
        {"key": "team", "value": "ops"},
        {"key": "env", "value": "dev"},
    ]


def test_adding_a_tag_sends_only_the_new_one(operator_client, lookout, tagged):
    response = operator_client.post(PAGE, rows(("team", "ops"), ("env", "dev"), ("site", "north")))

    submission = Submission.objects.get(operation=Operation.TAG)
    assert response.url == submission.get_absolute_url()
    assert submission.request == {
        "ResourceArn": tagged.scheduler_arn,
        "Tags": [{"Key": "site", "Value": "north"}],
    }
    assert sent(submission).state == State.SUCCEEDED
    assert tags_on_the_endpoint(lookout, tagged) == {"team": "ops", "env": "dev", "site": "north"}


def test_removing_a_tag_sends_untag_resource(operator_client, lookout, tagged):
    operator_client.post(PAGE, rows(("team", "ops"), ("env", "dev"), deleted=(1,)))

    submission = Submission.objects.get(operation=Operation.UNTAG)
    assert submission.request == {"ResourceArn": tagged.scheduler_arn, "TagKeys": ["env"]}
    assert sent(submission).state == State.SUCCEEDED
    assert tags_on_the_endpoint(lookout, tagged) == {"team": "ops"}


def test_changing_one_tag_and_removing_another_is_two_linked_steps(
    operator_client, lookout, tagged
):
    operator_client.post(PAGE, rows(("team", "reliability"), ("env", "dev"), deleted=(1,)))
    untag = Submission.objects.get(operation=Operation.UNTAG)
    tag = Submission.objects.get(operation=Operation.TAG)
    assert (untag.state, tag.state, tag.waits_for) == (State.QUEUED, State.WAITING, untag)

    sent(untag)
    submitting.follow_statuses()  # the sync queues a waiting step once the one before is done

    assert sent(tag).state == State.SUCCEEDED
    assert tags_on_the_endpoint(lookout, tagged) == {"team": "reliability"}


def test_a_tag_change_is_recorded_against_the_scheduler_and_its_model(operator_client, tagged):
    operator_client.post(PAGE, rows(("team", "ops"), ("env", "prod")))

    submission = Submission.objects.get(operation=Operation.TAG)
    assert (submission.scheduler_name, submission.model_name) == (NAME, "pump-model")


def test_the_sync_does_not_follow_a_tag_change(operator_client, tagged):
    operator_client.post(PAGE, rows(("team", "ops"), ("env", "prod")))
    submission = sent(Submission.objects.get(operation=Operation.TAG))

    submitting.follow_statuses()

    assert submission.events.count() == 3  # submitted, attempt started, succeeded
    assert not Submission.following().filter(pk=submission.pk).exists()


def test_saving_the_same_tags_is_refused_and_keeps_the_rows(operator_client, tagged):
    response = operator_client.post(PAGE, rows(("team", "ops"), ("env", "dev")))

    assert response.status_code == 200
    assert "already these: nothing to change" in response.text
    assert 'value="ops"' in response.text
    assert not Submission.objects.exclude(pk=tagged.pk).exists()


def test_a_key_twice_is_refused_next_to_the_second_row(operator_client, tagged):
    response = operator_client.post(PAGE, rows(("team", "ops"), ("team", "other")))

    form = response.context["form"]
    assert [row.errors for row in form.tags.forms][1]["key"] == [
        "This key is in a row above already: each key once."
    ]
    assert not Submission.objects.exclude(pk=tagged.pk).exists()


def test_a_key_aws_would_refuse_is_refused_next_to_its_field(operator_client, tagged):
    response = operator_client.post(PAGE, rows(("team", "ops"), ("aws:owner", "me")))

    assert "key" in response.context["form"].tags.forms[1].errors
    assert not Submission.objects.exclude(pk=tagged.pk).exists()


def test_add_a_tag_without_javascript_gives_one_more_row(operator_client, tagged):
    response = operator_client.post(PAGE, {**rows(("team", "ops")), "add_tag": "1"})

    assert len(response.context["form"].tags.forms) == 2
    assert not Submission.objects.exclude(pk=tagged.pk).exists()


def test_tags_cannot_change_while_another_request_is_under_way(operator_client, tagged):
    make_submission(InferenceSchedulerName=NAME)  # queued, not sent

    response = operator_client.post(PAGE, rows(("team", "ops")))

    assert "still under way" in response.text
    assert not Submission.objects.filter(operation__in=[Operation.TAG, Operation.UNTAG]).exists()


def test_the_scheduler_page_offers_manage_tags_to_operators_only(
    operator_client, viewer, client, tagged
):
    link = f'href="{PAGE}"'
    assert link in operator_client.get(reverse("scheduler_detail", args=[NAME])).text
    client.force_login(viewer)
    assert link not in client.get(reverse("scheduler_detail", args=[NAME])).text


def test_the_submission_page_shows_the_call_as_code(operator_client, tagged):
    operator_client.post(PAGE, rows(("team", "ops"), ("env", "prod")))
    submission = sent(Submission.objects.get(operation=Operation.TAG))

    page = operator_client.get(submission.get_absolute_url()).text

    assert "client.tag_resource(" in page
    assert "aws lookoutequipment tag-resource" in page
    assert "Clone" not in page  # a tag change is no configuration to fill a form with


def test_the_page_of_a_scheduler_that_does_not_exist_goes_back_saying_so(operator_client, lookout):
    response = operator_client.get(reverse("scheduler_tags", args=["no-such-scheduler"]))

    assert response.url == reverse("scheduler_detail", args=["no-such-scheduler"])
    [message] = get_messages(response.wsgi_request)
    assert "(ResourceNotFoundException)" in str(message)
