"""Job types' flow-control settings on the API: the PATCH body, and the shapes of GET /job-types/{type} and of the catalogue."""

from collections.abc import Mapping

from rest_framework import serializers

from jobs.flow import MAX_CONCURRENCY, PRIORITIES, Limits, rate_parse
from jobs.handlers.fields import StrictCharField


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


class StrictBooleanField(serializers.BooleanField):
    """true or false only (DRF's BooleanField also takes "yes", 1, "on"...)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON number that is a whole number (DRF's also takes "3" and true)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class RateField(StrictCharField):
    """A rate such as "10/s" or "600/min"."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            return str(rate_parse(text))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


def _limit_field(what: str) -> StrictIntegerField:
    return StrictIntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_CONCURRENCY,
                              help_text=f"At most this many {what} running at once across all workers; null: no limit.")


class TypeSettingsPatchSerializer(serializers.Serializer):
    """Any of a type's settings; the others stay. Every bad or unknown field is listed at once."""

    paused = StrictBooleanField(required=False, help_text="Paused: running jobs finish, nothing new starts.")
    priority = serializers.ChoiceField(choices=[p.value for p in PRIORITIES], required=False,
                                       help_text="The priority of this type's jobs submitted without one.")
    concurrency_limit = _limit_field("jobs (or chunks) of the type")
    rate_limit = RateField(required=False, allow_null=True, help_text='Starts of the type across all workers, e.g. "10/s" or "600/min"; null: none.')
    key_concurrency_limit = _limit_field("jobs of one concurrency_key (default: of one submitting user)")
    key_rate_limit = RateField(required=False, allow_null=True, help_text="Starts per concurrency_key (default: per user); null: none.")

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
        errors = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors.update(exc.detail)
            values = {}
        if errors:
            raise serializers.ValidationError(errors)
        return values


class TypeLimitsSerializer(serializers.Serializer):
    paused = serializers.BooleanField()
    priority = serializers.ChoiceField(choices=[p.value for p in PRIORITIES])
    concurrency_limit = serializers.IntegerField(allow_null=True)
    rate_limit = serializers.CharField(allow_null=True)
    key_concurrency_limit = serializers.IntegerField(allow_null=True)
    key_rate_limit = serializers.CharField(allow_null=True)


class TypeEditSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    action = serializers.CharField(help_text="edit, pause or resume.")
    changes = serializers.DictField(child=serializers.ListField(), help_text="{field: [old, new]}.")


class JobTypeSettingsSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    settings = TypeLimitsSerializer(help_text="What every worker applies (within BATCHLAB_TYPE_SETTINGS_SECONDS of an edit).")
    defaults = TypeLimitsSerializer(help_text="What the type declares in @job_type(...): its settings until staff edit them.")
    customized = serializers.BooleanField(help_text="Whether staff saved settings for this type.")
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)
    updated_by = serializers.CharField(allow_null=True)
    running = serializers.IntegerField(allow_null=True, help_text="Jobs holding one of its concurrency_limit slots (null without a limit).")
    history = TypeEditSerializer(many=True, help_text="Staff only: the last 50 edits, newest first (empty for others).")


def limits_shape(limits: Limits) -> dict:
    data = limits.as_dict()
    data["priority"] = str(limits.priority)
    return data


def job_type_settings(view, *, staff: bool) -> dict:
    """GET /job-types/{type}: JobTypeSettingsSerializer."""
    return {
        "name": view.name,
        "description": view.job_type.description,
        "settings": limits_shape(view.limits),
        "defaults": limits_shape(view.job_type.limits),
        "customized": view.customized,
        "version": view.version,
        "updated_at": _iso(view.updated_at),
        "updated_by": view.updated_by if staff else None,
        "running": view.running,
        "history": [{**edit, "at": _iso(edit["at"])} for edit in view.history] if staff else [],
    }
