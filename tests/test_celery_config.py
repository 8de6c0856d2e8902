"""Celery ignores unknown setting names silently: check every name we set."""

import inspect

import kombu.transport.SQS as sqs_transport
from celery.app.defaults import NAMESPACES, flatten

from batchlab.celery import CELERY_CONFIG, app, broker_url


def test_every_celery_setting_name_is_a_documented_celery_setting():
    known = {name for name, _ in flatten(NAMESPACES)}
    unknown = sorted(set(CELERY_CONFIG) - known)
    assert unknown == []


def test_every_sqs_transport_option_is_read_by_kombu():
    source = inspect.getsource(sqs_transport)
    for option in CELERY_CONFIG["broker_transport_options"]:
        assert f"'{option}'" in source or f'"{option}"' in source, option


def test_the_app_runs_at_least_once_and_without_remote_control():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True
    assert conf.worker_enable_remote_control is False
    assert conf.worker_send_task_events is False
    assert conf.accept_content == ["json"]
    options = conf.broker_transport_options
    assert options["wait_time_seconds"] == 20
    assert options["visibility_timeout"] > conf.task_time_limit


def test_broker_url_for_a_local_endpoint_carries_host_and_port():
    assert broker_url("http://127.0.0.1:5100") == "sqs://testing:testing@127.0.0.1:5100"
    assert broker_url(None) == "sqs://"
