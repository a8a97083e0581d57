"""The OpenAPI 3.1 document: served without a key, valid, and true to the live server."""

import subprocess
import sys
from datetime import timedelta

import requests
from openapi_spec_validator import validate

from tests.factories import DiscogsAccountFactory
from tests.support.pinterest_support import pinterest_link


def test_the_document_is_served_without_a_key_and_is_valid_openapi_3_1(api_base, standins):
    answer = requests.get(f"{api_base}/openapi.json", timeout=30)
    assert answer.status_code == 200
    document = answer.json()
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert {
        "/api/v1/connections",
        "/api/v1/connections/{link_id}",
        "/api/v1/connections/{link_id}/credentials",
        "/api/v1/connections/{link_id}/proxy/{path}",
        "/api/v1/connect-sessions",
    } <= set(document["paths"])
    assert document["components"]["securitySchemes"]


def test_the_browsable_docs_are_served(api_base, standins):
    answer = requests.get(f"{api_base}/docs", timeout=30)
    assert answer.status_code == 200
    assert "openapi.json" in answer.text


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(
    api_base, standins, make_key, user, tmp_path
):
    pinterest_link(user, expires_in=timedelta(days=10))
    DiscogsAccountFactory(user=user)
    key = make_key().key
    report = tmp_path / "schemathesis.json"
    checks = (
        "not_a_server_error,status_code_conformance,"
        "content_type_conformance,response_schema_conformance"
    )
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{api_base}/openapi.json"]
    command += ["--header", f"Authorization: Bearer {key}", "--checks", checks]
    command += ["--max-examples", "25", "--seed", "13", "--request-timeout", "30"]
    command += ["--suppress-health-check", "all"]
    command += ["--report", "ndjson", "--report-ndjson-path", str(report)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and report.stat().st_size > 0
