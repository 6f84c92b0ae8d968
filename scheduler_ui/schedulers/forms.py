"""The create form: the CreateInferenceScheduler request as fields and fieldsets.

Every constraint comes from the service model through `lookout`: each field
checks its own member, and clean() validates the whole request the form
builds, so the form refuses exactly what the service refuses.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import cached_property

from scheduler_ui import lookout
from scheduler_ui.lookout.service import get_member, member_shape_name, set_member
from scheduler_ui.schedulers.models import Submission

REQUEST = "CreateInferenceSchedulerRequest"

FREQUENCY_LABELS = {
    "PT5M": "Every 5 minutes",
    "PT10M": "Every 10 minutes",
    "PT15M": "Every 15 minutes",
    "PT30M": "Every 30 minutes",
    "PT1H": "Every hour",
}
TIMESTAMP_FORMATS = [
    ("", "Not set"),
    ("EPOCH", "Epoch seconds (EPOCH)"),
    ("yyyy-MM-dd-HH-mm-ss", "With hyphens (yyyy-MM-dd-HH-mm-ss)"),
    ("yyyyMMddHHmmss", "Without hyphens (yyyyMMddHHmmss)"),
]
DELIMITERS = [("", "Not set"), ("-", "Hyphen (-)"), ("_", "Underscore (_)"), (" ", "Space")]
# Offsets in use somewhere in the world, from UTC-12:00 to UTC+14:00.
TIME_ZONE_OFFSETS = [("", "Not set (UTC)")] + [
    (offset, f"UTC{offset}")
    for offset in [
        "-12:00",
        "-11:00",
        "-10:00",
        "-09:30",
        "-09:00",
        "-08:00",
        "-07:00",
        "-06:00",
        "-05:00",
        "-04:00",
        "-03:30",
        "-03:00",
        "-02:00",
        "-01:00",
        "+00:00",
        "+01:00",
        "+02:00",
        "+03:00",
        "+03:30",
        "+04:00",
        "+04:30",
        "+05:00",
        "+05:30",
        "+05:45",
        "+06:00",
        "+06:30",
        "+07:00",
        "+08:00",
        "+08:45",
        "+09:00",
        "+09:30",
        "+10:00",
        "+10:30",
        "+11:00",
        "+12:00",
        "+12:45",
        "+13:00",
        "+14:00",
    ]
]

# Form field → the member it fills, as a dotted path in the request.
MEMBER_PATHS = {
    "inference_scheduler_name": "InferenceSchedulerName",
    "model_name": "ModelName",
    "data_upload_frequency": "DataUploadFrequency",
    "data_delay_offset_in_minutes": "DataDelayOffsetInMinutes",
    "input_bucket": "DataInputConfiguration.S3InputConfiguration.Bucket",
    "input_prefix": "DataInputConfiguration.S3InputConfiguration.Prefix",
    "input_time_zone_offset": "DataInputConfiguration.InputTimeZoneOffset",
    "timestamp_format": "DataInputConfiguration.InferenceInputNameConfiguration.TimestampFormat",
    "component_timestamp_delimiter": (
        "DataInputConfiguration.InferenceInputNameConfiguration.ComponentTimestampDelimiter"
    ),
    "output_bucket": "DataOutputConfiguration.S3OutputConfiguration.Bucket",
    "output_prefix": "DataOutputConfiguration.S3OutputConfiguration.Prefix",
    "output_kms_key_id": "DataOutputConfiguration.KmsKeyId",
    "role_arn": "RoleArn",
    "server_side_kms_key_id": "ServerSideKmsKeyId",
    "client_token": "ClientToken",
}
FIELD_FOR_PATH = {path: field for field, path in MEMBER_PATHS.items()}


def is_required(structure: str, path: str) -> bool:
    """A member must be filled when it and every structure around it are required."""
    owner = structure
    for part in path.split("."):
        if part not in lookout.shape(owner).get("required", []):
            return False
        owner = lookout.shape(owner)["members"][part]["shape"]
    return True


def first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


# What the service accepts, in words, after the API's own description; {min}
# and {max} are filled from the member's shape. Patterns are left to the server.
HINTS = {
    "inference_scheduler_name": "Up to {max} letters, digits, hyphens (-) and underscores (_).",
    "model_name": "An existing model: up to {max} letters, digits, hyphens and underscores.",
    "data_delay_offset_in_minutes": "A whole number of minutes from {min} to {max}.",
    "input_bucket": (
        "{min} to {max} lowercase letters, digits, dots and hyphens, starting and ending with a"
        " letter or digit. Needed when a prefix is set."
    ),
    "input_prefix": "Empty, or a path ending in a slash, e.g. sensors/pump/.",
    "output_bucket": (
        "{min} to {max} lowercase letters, digits, dots and hyphens, starting and ending with a"
        " letter or digit."
    ),
    "output_prefix": "Empty, or a path ending in a slash, e.g. results/.",
    "output_kms_key_id": "A key ID, alias or ARN, e.g. alias/lookout-output.",
    "role_arn": "Like arn:aws:iam::123456789012:role/LookoutAccess (a 12-digit account).",
    "server_side_kms_key_id": "A key ID, alias or ARN, e.g. alias/lookout-data.",
    "client_token": "Up to {max} ASCII characters.",
}
TAG_HINTS = {
    "key": "{min} to {max} letters, digits and + - = . _ : /, not starting with aws:",
    "value": "Up to {max} characters.",
}
SECTION = "form-section card card-body mb-3"
# The id of the <datalist> of model names on the form's page.
MODEL_NAMES_LIST = "model-names"


def add_hints(form_class: type[forms.Form], hints: dict[str, str]) -> None:
    """Append each field's hint to its help text, with the shape's limits filled
    in: once, on the class's fields, which every form instance copies."""
    for name, hint in hints.items():
        field = form_class.base_fields[name]
        shape_name = next(v.shape_name for v in field.validators if isinstance(v, MemberValidator))
        limits = lookout.shape(shape_name)
        text = str(field.help_text).rstrip(".")
        field.help_text = f"{text}. {hint.format(min=limits.get('min'), max=limits.get('max'))}"


class MemberValidator:
    """Checks one value against the shape of one request member."""

    def __init__(self, shape_name: str) -> None:
        self.shape_name = shape_name

    def __call__(self, value: Any) -> None:
        errors = lookout.validate_value(self.shape_name, value)
        if errors:
            raise ValidationError([error.message for error in errors])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemberValidator) and other.shape_name == self.shape_name

    def __hash__(self) -> int:
        return hash(self.shape_name)


def member_field(
    path: str,
    label: str,
    *,
    structure: str = REQUEST,
    choices: list[tuple[str, str]] | None = None,
    required: bool | None = None,
    help_text: str = "",
) -> forms.Field:
    """A form field for one request member, its rules taken from the service
    model; `required` and `help_text` override the model's."""
    shape_name = member_shape_name(structure, path)
    shape = lookout.shape(shape_name)
    common: dict[str, Any] = {
        "label": label,
        "required": is_required(structure, path) if required is None else required,
        "help_text": help_text or first_sentence(lookout.documentation(structure, path)),
        "validators": [MemberValidator(shape_name)],
    }
    if choices is not None or "enum" in shape:
        if choices is None:
            choices = [(v, FREQUENCY_LABELS.get(v, v)) for v in lookout.enum_values(shape_name)]
            if not common["required"]:
                choices = [("", "Not set"), *choices]
        # Given as a callable, the choices are not deep-copied with the field for
        # every form made (a form copies all its fields).
        listed = choices
        return forms.TypedChoiceField(choices=lambda: listed, coerce=str, empty_value="", **common)
    if shape["type"] in {"integer", "long"}:
        return forms.IntegerField(min_value=shape.get("min"), max_value=shape.get("max"), **common)
    return forms.CharField(max_length=shape.get("max"), strip=False, empty_value="", **common)


def input_data_fieldset() -> Fieldset:
    """The input members, laid out the same on the create and the edit form."""
    return Fieldset(
        "Input data",
        Row(Column("input_bucket"), Column("input_prefix")),
        Row(Column("timestamp_format"), Column("component_timestamp_delimiter")),
        Row(Column("input_time_zone_offset", css_class="col-md-6")),
        css_class=SECTION,
    )


def output_data_fieldset() -> Fieldset:
    return Fieldset(
        "Output data",
        Row(Column("output_bucket"), Column("output_prefix")),
        "output_kms_key_id",
        css_class=SECTION,
    )


class SchedulerForm(forms.Form):
    inference_scheduler_name = member_field("InferenceSchedulerName", "Scheduler name")
    model_name = member_field("ModelName", "Model name")
    data_upload_frequency = member_field("DataUploadFrequency", "Data upload frequency")
    data_delay_offset_in_minutes = member_field(
        "DataDelayOffsetInMinutes", "Data delay offset (minutes)"
    )
    input_bucket = member_field(MEMBER_PATHS["input_bucket"], "Input S3 bucket")
    input_prefix = member_field(MEMBER_PATHS["input_prefix"], "Input S3 prefix")
    input_time_zone_offset = member_field(
        MEMBER_PATHS["input_time_zone_offset"], "Input time zone offset", choices=TIME_ZONE_OFFSETS
    )
    timestamp_format = member_field(
        MEMBER_PATHS["timestamp_format"],
        "Timestamp format in file names",
        choices=TIMESTAMP_FORMATS,
    )
    component_timestamp_delimiter = member_field(
        MEMBER_PATHS["component_timestamp_delimiter"],
        "Delimiter between component and timestamp",
        choices=DELIMITERS,
    )
    output_bucket = member_field(MEMBER_PATHS["output_bucket"], "Output S3 bucket")
    output_prefix = member_field(MEMBER_PATHS["output_prefix"], "Output S3 prefix")
    output_kms_key_id = member_field(MEMBER_PATHS["output_kms_key_id"], "Output KMS key")
    role_arn = member_field("RoleArn", "IAM role ARN")
    server_side_kms_key_id = member_field("ServerSideKmsKeyId", "Server-side KMS key")
    # Generated on the server when left empty; the override is for re-sending
    # a request that AWS should recognise as one it has already seen.
    client_token = member_field(
        "ClientToken",
        "Client token",
        required=False,
        help_text="Leave empty to have one generated. AWS uses it to recognise a repeated request.",
    )

    @cached_property
    def helper(self) -> FormHelper:
        """The layout, for rendering only (a valid POST never needs it)."""
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        helper.layout = Layout(
            Fieldset(
                "Scheduler",
                Row(Column("inference_scheduler_name"), Column("model_name")),
                Row(Column("data_upload_frequency"), Column("data_delay_offset_in_minutes")),
                css_class=SECTION,
            ),
            input_data_fieldset(),
            output_data_fieldset(),
            Fieldset(
                "Access and encryption", "role_arn", "server_side_kms_key_id", css_class=SECTION
            ),
            Fieldset("Advanced", "client_token", css_class=SECTION),
        )
        return helper

    def clean_client_token(self) -> str:
        token: str = self.cleaned_data.get("client_token") or ""
        if token and Submission.objects.filter(client_token=token).exists():
            raise ValidationError("This client token was already used by another submission.")
        return token


add_hints(SchedulerForm, HINTS)
# Suggests the account's ready models (the page's <datalist>); any name may be typed.
SchedulerForm.base_fields["model_name"].widget.attrs.update(
    list=MODEL_NAMES_LIST, autocomplete="off"
)


class TagForm(forms.Form):
    key = member_field("Key", "Key", structure="Tag")
    # A row is a tag only once its key is filled; a tag's value may be empty.
    value = member_field("Value", "Value", structure="Tag", required=False)


add_hints(TagForm, TAG_HINTS)


TagFormSet = forms.formset_factory(
    TagForm,
    extra=0,
    can_delete=True,
    max_num=lookout.shape("TagList")["max"],
    absolute_max=lookout.shape("TagList")["max"],
    validate_max=True,
)


def with_another_tag_row(data: Any) -> Any:
    """The posted form again with one more (empty) tag row: "Add a tag" without
    JavaScript. A row count that is no small number is left for the formset to
    report as tampered."""
    data = data.copy()
    count = data.get("tags-TOTAL_FORMS") or "0"
    if count.isdecimal() and len(count) <= 4:
        data["tags-TOTAL_FORMS"] = str(int(count) + 1)
    return data


class ManageTagsForm:
    """A scheduler's tags as rows to edit (the create form's tag rows, checked
    against the service model the same way); each key once."""

    def __init__(self, data: Any = None, current: dict[str, str] | None = None) -> None:
        initial = [{"key": key, "value": value} for key, value in (current or {}).items()]
        self.tags = TagFormSet(data, initial=None if data is not None else initial, prefix="tags")

    def is_valid(self) -> bool:
        if not self.tags.is_valid():
            return False
        seen: set[str] = set()
        for row in self.tags.forms:
            key = row.cleaned_data.get("key")
            if not key or row.cleaned_data.get("DELETE"):
                continue
            if key in seen:
                row.add_error("key", "This key is in a row above already: each key once.")
            seen.add(key)
        return not any(self.tags.errors)

    def wanted(self) -> dict[str, str]:
        """The tags the scheduler should have: every kept row with a key."""
        return {
            row["key"]: row.get("value") or ""
            for row in self.tags.cleaned_data
            if row.get("key") and not row.get("DELETE")
        }


class CreateSchedulerForm:
    """The scheduler form and its tag rows, validated together as one request."""

    def __init__(self, data: Any = None, initial: dict[str, Any] | None = None) -> None:
        self.scheduler = SchedulerForm(data, initial=initial)
        self.tags = TagFormSet(data, prefix="tags")
        self._request: dict[str, Any] | None = None
        self._tag_rows: list[int] = []  # Tags[i] in the request comes from row _tag_rows[i]

    def is_valid(self) -> bool:
        if not (self.scheduler.is_valid() and self.tags.is_valid()):
            return False
        request = self._build_request()
        for error in lookout.validate_request("CreateInferenceScheduler", request):
            self._add_error(error.path, error.message)
        if self.scheduler.errors or any(self.tags.errors) or self.tags.non_form_errors():
            return False
        self._request = request
        return True

    def to_request(self) -> dict[str, Any]:
        """The exact CreateInferenceScheduler request; empty optional members left out."""
        if self._request is None:
            raise ValueError("to_request() needs a valid form")
        return self._request

    def _build_request(self) -> dict[str, Any]:
        data = self.scheduler.cleaned_data
        request: dict[str, Any] = {}
        for field, path in MEMBER_PATHS.items():
            value = data.get(field)
            if value is None or value == "":
                continue
            set_member(request, path, value)
        request.setdefault("DataInputConfiguration", {})
        request.setdefault("ClientToken", Submission.new_client_token())
        self._tag_rows = [
            index
            for index, row in enumerate(self.tags.cleaned_data)
            if row.get("key") and not row.get("DELETE")
        ]
        if self._tag_rows:
            rows = self.tags.cleaned_data
            request["Tags"] = [
                {"Key": rows[i]["key"], "Value": rows[i].get("value") or ""} for i in self._tag_rows
            ]
        return request

    def _add_error(self, path: str, message: str) -> None:
        tag = re.match(r"Tags\[(\d+)\]\.(Key|Value)", path)
        if tag:
            self.tags.forms[self._tag_rows[int(tag.group(1))]].add_error(
                tag.group(2).lower(), message
            )
        elif path in FIELD_FOR_PATH:
            self.scheduler.add_error(FIELD_FOR_PATH[path], message)
        else:
            nearest = next((f for p, f in FIELD_FOR_PATH.items() if p.startswith(path + ".")), None)
            self.scheduler.add_error(nearest, f"{path}: {message}" if nearest is None else message)


def form_from_request(request: dict[str, Any]) -> CreateSchedulerForm:
    """An unbound form filled in from a stored request, to send it again (Clone).
    The client token is left out: the copy is a new request and gets a new one."""
    initial = {}
    for field, path in MEMBER_PATHS.items():
        value = get_member(request, path)
        if value is not None and field != "client_token":
            initial[field] = value
    form = CreateSchedulerForm(initial=initial)
    tags = [{"key": tag["Key"], "value": tag.get("Value", "")} for tag in request.get("Tags", [])]
    form.tags = TagFormSet(initial=tags, prefix="tags")
    return form


# --- The edit form: UpdateInferenceScheduler -------------------------------------

UPDATE_REQUEST = "UpdateInferenceSchedulerRequest"
# The create form's fields for the members UpdateInferenceScheduler takes, besides
# the name that says which scheduler: what an edit may change.
UPDATABLE_FIELDS = tuple(
    field
    for field, path in MEMBER_PATHS.items()
    if path.split(".")[0] in lookout.shape(UPDATE_REQUEST)["members"]
    and path != "InferenceSchedulerName"
)
UPDATABLE_MEMBERS = tuple(dict.fromkeys(MEMBER_PATHS[f].split(".")[0] for f in UPDATABLE_FIELDS))


class UpdateSchedulerForm(forms.Form):
    """The members UpdateInferenceScheduler may change, filled in from the
    scheduler as DescribeInferenceScheduler reports it. Each field is the create
    form's; the request is validated as UpdateInferenceScheduler and carries only
    the members that changed (the service replaces a member whole, and leaves
    the ones not sent as they are). A RUNNING scheduler is stopped, updated and
    started again, which the person confirms."""

    def __init__(self, described: dict[str, Any], data: Any = None) -> None:
        initial = {field: get_member(described, MEMBER_PATHS[field]) for field in UPDATABLE_FIELDS}
        super().__init__(data, initial={k: v for k, v in initial.items() if v is not None})
        self.described = described
        for field in UPDATABLE_FIELDS:
            self.fields[field] = copy.deepcopy(SchedulerForm.base_fields[field])
        self.running = described.get("Status") == "RUNNING"
        if self.running:
            self.fields["confirm_restart"] = forms.BooleanField(
                label="Stop the scheduler, update it, then start it again",
                error_messages={"required": "Tick this to have it stopped, updated and started."},
            )
        self.request: dict[str, Any] = {}

    @cached_property
    def helper(self) -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        helper.layout = Layout(
            Fieldset(
                "Schedule",
                Row(Column("data_upload_frequency"), Column("data_delay_offset_in_minutes")),
                css_class=SECTION,
            ),
            input_data_fieldset(),
            output_data_fieldset(),
            Fieldset("Access", "role_arn", css_class=SECTION),
            *(["confirm_restart"] if self.running else []),
        )
        return helper

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        configuration: dict[str, Any] = {}
        for field in UPDATABLE_FIELDS:
            value = self.cleaned_data.get(field)
            if value is not None and value != "":
                set_member(configuration, MEMBER_PATHS[field], value)
        request: dict[str, Any] = {
            "InferenceSchedulerName": self.described["InferenceSchedulerName"]
        }
        for member in UPDATABLE_MEMBERS:
            # An emptied structure is sent empty (and refused if it may not be); an
            # emptied number or name is left as it is.
            default: dict[str, Any] | None = (
                {} if isinstance(self.described.get(member), dict) else None
            )
            value = configuration.get(member, default)
            if value is not None and value != self.described.get(member):
                request[member] = value
        for error in lookout.validate_request("UpdateInferenceScheduler", request):
            self.add_error(self._field_for(error.path), error.message)
        if not self.errors and len(request) == 1:
            raise ValidationError("Nothing changed: the scheduler already has this configuration.")
        self.request = request
        return cleaned

    def _field_for(self, path: str) -> str | None:
        if path in FIELD_FOR_PATH and FIELD_FOR_PATH[path] in self.fields:
            return FIELD_FOR_PATH[path]
        return next(
            (f for p, f in FIELD_FOR_PATH.items() if p.startswith(path + ".") and f in self.fields),
            None,
        )
