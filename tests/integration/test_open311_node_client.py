"""A second third-party Open311 client (issue 19): the npm package `open311` 0.0.12
(codeforamerica/node-open311), run with Node by `tests/clients/open311-node/client.js` against the
app served by uvicorn on a loopback port (the `served` fixture, tests/integration/conftest.py).

Through the client, in JSON: service discovery, service list, service definition, create
(`submitRequest`, which sends the `api_key` in the form and `jurisdiction_id` in the query string),
get one request and get requests (by id list and by status/service); its errors for a wrong key
(403) and a foreign jurisdiction (404). Not XML: the module's XML parsers cannot be installed from
the npm registry — `sparkxml` is a GitHub-only dependency and `xml2json` 0.2.4 needs `node-expat`
1.4.1, built with node-waf — so package.json overrides both with stand-ins that throw if called
(`unavailable/`); on the JSON path they never are. Not `token`: the server answers with the
request id at once, so there is no token to look up.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from db import session_scope
from pakn.models import PaknRecord
from tests.integration.test_open311_georeport import JURISDICTION, new_key

pytestmark = pytest.mark.integration
CLIENT_DIR = Path(__file__).resolve().parents[1] / "clients" / "open311-node"


@pytest.fixture(scope="module")
def node_client() -> Path:
    """`client.js` with its node_modules (`npm ci` from the lock file when they are missing)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.fail("Node.js and npm are needed for the open311 (npm) client test: install Node 20 "
                    f"(node: {node}, npm: {npm})")
    if not (CLIENT_DIR / "node_modules" / "open311").is_dir():
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENT_DIR, capture_output=True,
                           text=True, timeout=300, check=False)
        if r.returncode != 0:
            pytest.fail(f"npm ci in {CLIENT_DIR} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return CLIENT_DIR / "client.js"


def run_client(script: Path, *args: str) -> dict:
    r = subprocess.run(["node", str(script), *args], cwd=script.parent, capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_npm_open311_client(node_client: Path, served: str, db_url: str) -> None:
    client_id, key = new_key(db_url)
    out = run_client(node_client, served, JURISDICTION, key)

    [endpoint] = out["discovery"]["data"]["endpoints"]
    assert endpoint["url"] == served and endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"

    services = requests.get(f"{served}/services.json", timeout=30).json()
    assert out["services"] == {"data": services}
    assert {"moi_truong", "dat_dai", "khac"} <= {s["service_code"] for s in out["services"]["data"]}
    assert out["definition"] == {"data": {"service_code": "moi_truong", "attributes": []}}

    [created] = out["created"]["data"]
    rid = created["service_request_id"]
    assert rid.startswith("PA-") and "Đã tiếp nhận" in created["service_notice"]
    with session_scope(db_url) as db:
        record = db.scalars(select(PaknRecord).where(PaknRecord.code == rid)).one()
        assert record.channel == "open311" and record.channel_user_id == f"{client_id}:node-1"

    [ours] = requests.get(f"{served}/requests/{rid}.json", timeout=30).json()
    [one] = out["one"]["data"]
    assert one["service_request_id"] == rid and one["status"] == "open" and one["service_code"] == "moi_truong"
    assert "an.nguyen" not in str(one) and "[đã ẩn]" in one["description"]
    dates = ("requested_datetime", "updated_datetime", "expected_datetime")
    for field in dates:  # the client turns them into JS Dates: milliseconds, UTC
        gap = abs(datetime.fromisoformat(one[field]) - datetime.fromisoformat(ours[field]))
        assert gap < timedelta(milliseconds=1), (field, one[field], ours[field])
    assert {k: v for k, v in one.items() if k not in dates} == {k: v for k, v in ours.items() if k not in dates}
    assert [x["service_request_id"] for x in out["listed"]["data"]] == [rid]
    assert rid in {x["service_request_id"] for x in out["recent"]["data"]}

    assert out["created_with_wrong_key"]["error"] == 403
    assert "api_key" in json.loads(out["created_with_wrong_key"]["message"].split("; ", 1)[1])[0]["description"]
    assert out["services_elsewhere"] == {"error": True,
                                         "message": "There was an error connecting to the Open311 API: 404"}
