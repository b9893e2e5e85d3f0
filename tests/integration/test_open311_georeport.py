"""Open311 GeoReport v2 as other systems speak it (issue 19): XML on every endpoint with the same
content as JSON, service definitions, discovery, `jurisdiction_id` and `api_key` — and a real
third-party client, `georeport` (PyPI), against the app served by uvicorn on a loopback port.

`georeport` 0.3.1 reads the service list, service definitions and requests in XML and JSON; it has
no call to create a request ("does not currently support the creation of new 311 service
requests", its README), so the create call is the spec's form POST sent with `requests` — the
HTTP library the client itself uses — and its XML read with `xmltodict`, the client's parser.
"""
from __future__ import annotations

import uuid

import pytest
import requests
import xmltodict
from fastapi.testclient import TestClient
from georeport import GeoReport
from sqlalchemy import select

from api.clients import SCOPE_OFFICE, create_client, revoke_client
from db import session_scope
from pakn.models import PaknRecord

pytestmark = pytest.mark.integration
JURISDICTION = "tayninh.gov.vn"
LOCATION = "phường Bến Thành, TP. Hồ Chí Minh"


def new_key(db_url: str, scope: str = "chat", office: str | None = None) -> tuple[str, str]:
    client_id = f"g-{uuid.uuid4().hex[:10]}"
    with session_scope(db_url) as db:
        return client_id, create_client(db, client_id=client_id, name="georeport", scope=scope, office_id=office)


def xml(response) -> dict:
    assert response.headers["content-type"].startswith("text/xml"), response.headers["content-type"]
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return xmltodict.parse(response.content)


def as_text(value):
    """JSON value as its XML text (xmltodict reads an empty element as None)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == "":
        return None
    return str(value)


def same_content(json_rows: list[dict], xml_rows) -> None:
    xml_rows = xml_rows if isinstance(xml_rows, list) else [xml_rows]
    assert len(json_rows) == len(xml_rows)
    for j, x in zip(json_rows, xml_rows, strict=True):
        assert set(j) == set(x)
        assert {k: as_text(v) for k, v in j.items()} == dict(x)


def test_every_endpoint_speaks_xml_with_the_content_of_json(make_app, db_url) -> None:
    client = TestClient(make_app())
    services = client.get("/open311/v2/services.json").json()
    same_content(services, xml(client.get("/open311/v2/services.xml"))["services"]["service"])

    definition = client.get("/open311/v2/services/moi_truong.json").json()
    assert definition == {"service_code": "moi_truong", "attributes": []}
    assert xml(client.get("/open311/v2/services/moi_truong.xml")) == {
        "service_definition": {"service_code": "moi_truong", "attributes": None}}

    form = {"service_code": "moi_truong", "address_string": LOCATION, "lat": "10.7725", "long": "106.6980",
            "description": "Rác tràn ra đường, gọi 0912 345 678", "phone": "0912345678",
            "jurisdiction_id": JURISDICTION}
    created = xml(client.post("/open311/v2/requests.xml", data=form))["service_requests"]["request"]
    rid = created["service_request_id"]
    assert rid.startswith("PA-") and "Đã tiếp nhận" in created["service_notice"] and created["account_id"] is None

    one_json = client.get(f"/open311/v2/requests/{rid}.json").json()
    one_xml = xml(client.get(f"/open311/v2/requests/{rid}.xml"))["service_requests"]["request"]
    same_content(one_json, one_xml)
    assert "0912" not in str(one_xml) and "[đã ẩn]" in one_xml["description"]
    listed = client.get("/open311/v2/requests.json", params={"service_request_id": rid}).json()
    same_content(listed, xml(client.get("/open311/v2/requests.xml",
                                        params={"service_request_id": rid}))["service_requests"]["request"])

    err = xml(client.get("/open311/v2/requests/PA-2612-ZZZZZ-ZZZZZ.xml"))
    assert set(err) == {"errors"} and err["errors"]["error"]["code"] == "404"
    assert "Không tìm thấy" in err["errors"]["error"]["description"]
    r = client.get("/open311/v2/requests.xml", params={"status": "maybe"})
    assert r.status_code == 400 and xml(r)["errors"]["error"]["code"] == "400"
    assert client.get("/open311/v2/services.csv").status_code == 404
    r = client.post("/open311/v2/requests.xml", data={"address_string": LOCATION, "description": "Rác tràn ra đường"})
    assert r.status_code == 400 and "service_code" in xml(r)["errors"]["error"]["description"]


def test_discovery_in_both_formats(make_app) -> None:
    client = TestClient(make_app())
    doc = client.get("/open311/v2/discovery.json").json()
    assert set(doc) == {"changeset", "contact", "key_service", "endpoints"}
    [endpoint] = doc["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2" and endpoint["type"] == "test"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    d = xml(client.get("/open311/v2/discovery.xml"))["discovery"]
    assert d["changeset"] == doc["changeset"] and d["contact"] == doc["contact"]
    assert d["endpoints"]["endpoint"]["formats"]["format"] == ["text/xml", "application/json"]


@pytest.mark.parametrize("path", ["/open311/v2/services.{f}", "/open311/v2/services/moi_truong.{f}",
                                  "/open311/v2/requests.{f}", "/open311/v2/requests/PA-2612-AAAAA-AAAAA.{f}"])
def test_jurisdiction_is_ours_or_404(make_app, path) -> None:
    client = TestClient(make_app())
    for ours in (JURISDICTION, "TayNinh.gov.vn", "www.tayninh.gov.vn", ""):
        assert client.get(path.format(f="json"), params={"jurisdiction_id": ours}).status_code in (200, 404)
    assert client.get(path.format(f="json"), params={"jurisdiction_id": JURISDICTION}).status_code == (
        404 if "PA-" in path else 200)
    r = client.get(path.format(f="xml"), params={"jurisdiction_id": "sfgov.org"})
    assert r.status_code == 404 and "jurisdiction_id" in xml(r)["errors"]["error"]["description"]
    r = client.get(path.format(f="json"), params={"jurisdiction_id": "sfgov.org"})
    assert r.status_code == 404 and r.json()[0]["code"] == 404


def test_configured_jurisdiction_and_post_with_another(make_app) -> None:
    client = TestClient(make_app(OPEN311_JURISDICTION_ID="hcm.gov.vn"))
    assert client.get("/open311/v2/services.json", params={"jurisdiction_id": "hcm.gov.vn"}).status_code == 200
    assert client.get("/open311/v2/services.json", params={"jurisdiction_id": JURISDICTION}).status_code == 404
    r = client.post("/open311/v2/requests.xml", data={"service_code": "moi_truong", "address_string": LOCATION,
                                                      "description": "Rác tràn ra đường", "jurisdiction_id": "x.org"})
    assert r.status_code == 404 and xml(r)["errors"]["error"]["code"] == "404"


def test_api_key_when_required(make_app, db_url) -> None:
    """The spec's 403 for a missing or wrong api_key; a chat-scope API client key is accepted and
    the caller's account_id lives in that client's namespace."""
    client = TestClient(make_app(OPEN311_API_KEY_REQUIRED="true"))
    form = {"service_code": "moi_truong", "address_string": LOCATION, "description": "Rác tràn ra đường",
            "account_id": "U-1"}
    r = client.post("/open311/v2/requests.xml", data=form)
    assert r.status_code == 403 and xml(r)["errors"]["error"]["code"] == "403"
    r = client.post("/open311/v2/requests.json", data={**form, "api_key": "hc_nobody_" + "x" * 40})
    assert r.status_code == 403 and "api_key" in r.json()[0]["description"]
    _, office_key = new_key(db_url, SCOPE_OFFICE, "office-default")
    assert client.post("/open311/v2/requests.json", data={**form, "api_key": office_key}).status_code == 403
    client_id, key = new_key(db_url)
    r = client.post("/open311/v2/requests.json", data={**form, "api_key": key})
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    with session_scope(db_url) as db:
        record = db.scalars(select(PaknRecord).where(PaknRecord.code == rid)).one()
        assert record.channel == "open311" and record.channel_user_id == f"{client_id}:u-1"
    with session_scope(db_url) as db:
        revoke_client(db, client_id)
    fresh = TestClient(make_app(OPEN311_API_KEY_REQUIRED="true"))  # a new app: no verified-key memory
    assert fresh.post("/open311/v2/requests.json", data={**form, "api_key": key}).status_code == 403


def test_repeat_keys_are_per_integration(make_app, db_url) -> None:
    client = TestClient(make_app())
    form = {"service_code": "moi_truong", "address_string": LOCATION, "description": "Rác tràn ra đường"}
    repeat = {"Idempotency-Key": uuid.uuid4().hex}
    a = client.post("/open311/v2/requests.json", data=form, headers=repeat)
    assert a.status_code == 201
    assert client.post("/open311/v2/requests.json", data=form, headers=repeat).json() == a.json()
    _, key = new_key(db_url)
    b = client.post("/open311/v2/requests.json", data={**form, "api_key": key}, headers=repeat)
    assert b.status_code == 201 and b.json()[0]["service_request_id"] != a.json()[0]["service_request_id"]


# ---------------------------------------------------------------- the georeport client over HTTP


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_the_georeport_client(served, db_url, fmt) -> None:
    _, key = new_key(db_url)
    client = GeoReport(served, jurisdiction=JURISDICTION, api_key=key, output_format=fmt)

    services = client.get_service_list()
    codes = {s["service_code"] for s in services}
    assert {"moi_truong", "dat_dai", "khac"} <= codes
    assert all(as_text(s["metadata"]) == "false" and s["type"] == "realtime" for s in services)
    definition = client.get_service_definition("moi_truong")
    assert definition["service_code"] == "moi_truong" and not definition["attributes"]

    # Create: the client has no call for it, so the spec's form POST, as the client would send it.
    form = {"api_key": client.api_key, "jurisdiction_id": client.jurisdiction, "service_code": "moi_truong",
            "lat": "10.7725", "long": "106.6980", "address_string": LOCATION, "first_name": "An",
            "email": "an.nguyen@gmail.com", "description": f"Rác tràn ra đường ({fmt}), liên hệ an.nguyen@gmail.com"}
    r = requests.post(f"{served}/requests.{fmt}", data=form, timeout=30)
    assert r.status_code == 201, r.text
    created = xmltodict.parse(r.content)["service_requests"]["request"] if fmt == "xml" else r.json()[0]
    rid = created["service_request_id"]
    r = requests.post(f"{served}/requests.{fmt}", data={**form, "api_key": "hc_nobody_" + "x" * 40}, timeout=30)
    assert r.status_code == 403

    one = client.get_service_request(rid)
    assert one["service_request_id"] == rid and one["status"] == "open" and one["service_code"] == "moi_truong"
    assert "an.nguyen" not in str(one) and "[đã ẩn]" in one["description"]
    assert float(one["lat"]) == pytest.approx(10.773)
    listed = client.get_service_requests(service_request_id=rid)
    listed = listed if isinstance(listed, list) else [listed]
    assert [x["service_request_id"] for x in listed] == [rid]
    recent = client.get_service_requests(status="open", service_code="moi_truong")
    recent = recent if isinstance(recent, list) else [recent]
    assert rid in {x["service_request_id"] for x in recent}

    with pytest.raises(requests.HTTPError) as exc:
        GeoReport(served, jurisdiction="sfgov.org", output_format=fmt).get_service_list()
    assert exc.value.response.status_code == 404


def test_limits_answer_in_the_spec_shape(make_app) -> None:
    """A 429 from the per-address limits reaches an Open311 client as `<errors>` / `[{code, description}]`."""
    client = TestClient(make_app(LOOKUP_RATE_LIMIT_PER_MINUTE="1", RATE_LIMIT_PER_IP_PER_MINUTE="1"),
                        client=(f"10.31.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}", 5000))
    assert client.get("/open311/v2/requests/PA-2612-AAAAA-AAAAA.xml").status_code == 404
    r = client.get("/open311/v2/requests/PA-2612-AAAAA-AAAAA.xml")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert xml(r)["errors"]["error"]["code"] == "429"
    r = client.get("/open311/v2/requests.json")
    assert r.status_code == 429 and r.json()[0]["code"] == 429 and "quá nhiều" in r.json()[0]["description"]
    form = {"service_code": "moi_truong", "address_string": LOCATION, "description": "Rác tràn ra đường"}
    assert client.post("/open311/v2/requests.xml", data=form).status_code == 201
    r = client.post("/open311/v2/requests.xml", data=form)
    assert r.status_code == 429 and xml(r)["errors"]["error"]["code"] == "429"
