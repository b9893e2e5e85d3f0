"""Send a correctly signed Zalo OA event to a running app, so a person can try the Zalo flow.

    python scripts/zalo_send_event.py "Đăng ký khai sinh cần giấy tờ gì?"
    python scripts/zalo_send_event.py --event user_send_location --lat 11.31 --lon 106.09
    python scripts/zalo_send_event.py --event follow

The app id and OA secret key come from the same settings as the app (ZALO_APP_ID,
ZALO_OA_SECRET_KEY, `.env`), or from --app-id/--secret. Start the fake Zalo API first
(`python -m tests.fakes.zalo_api`) and point ZALO_API_BASE/ZALO_OAUTH_BASE at it to see the answer.
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from settings import get_settings
from webhooks.zalo import SIGNATURE_HEADER, signature


def build_event(args: argparse.Namespace, app_id: str) -> dict:
    ts = str(int(time.time() * 1000))
    if args.event in ("follow", "unfollow"):
        return {"app_id": app_id, "oa_id": args.oa_id, "event_name": args.event, "timestamp": ts,
                "follower": {"id": args.user}, "source": "oa_profile"}
    message: dict = {"msg_id": args.msg_id or secrets.token_hex(10)}
    if args.event == "user_send_location":
        message["attachments"] = [{"type": "location", "payload": {
            "coordinates": {"latitude": str(args.lat), "longitude": str(args.lon)}}}]
    elif args.event in ("user_send_image", "user_send_file"):
        kind = "image" if args.event == "user_send_image" else "file"
        message["attachments"] = [{"type": kind, "payload": {"url": args.url, "name": Path(args.url).name}}]
    if args.text:
        message["text"] = args.text
    return {"app_id": app_id, "event_name": args.event, "timestamp": ts, "sender": {"id": args.user},
            "recipient": {"id": args.oa_id}, "message": message}


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", nargs="?", default="", help="message text (user_send_text)")
    parser.add_argument("--url", dest="endpoint", default="http://127.0.0.1:8000/webhooks/zalo")
    parser.add_argument("--event", default="user_send_text",
                        choices=["user_send_text", "user_send_location", "user_send_image", "user_send_file",
                                 "follow", "unfollow"])
    parser.add_argument("--user", default="8000000000000000001", help="Zalo user id of the sender")
    parser.add_argument("--oa-id", default="388613280878808645")
    parser.add_argument("--msg-id", default=None, help="reuse an id to see deduplication")
    parser.add_argument("--lat", type=float, default=11.3101)
    parser.add_argument("--lon", type=float, default=106.0983)
    parser.add_argument("--media-url", dest="url", default="https://example.org/anh-hien-truong.jpg")
    parser.add_argument("--app-id", default=settings.zalo_app_id)
    parser.add_argument("--secret", default=settings.zalo_oa_secret_key.get_secret_value())
    args = parser.parse_args(argv)
    if args.event == "user_send_text" and not args.text:
        parser.error("give the message text")
    if not args.secret:
        parser.error("no OA secret key: set ZALO_OA_SECRET_KEY or pass --secret")
    event = build_event(args, args.app_id)
    raw = json.dumps(event, ensure_ascii=False)
    mac = signature(args.app_id, raw, event["timestamp"], args.secret)
    resp = httpx.post(args.endpoint, content=raw.encode("utf-8"),
                      headers={"Content-Type": "application/json", SIGNATURE_HEADER: f"mac={mac}"})
    print(f"{resp.status_code} {resp.text}")
    return 0 if resp.status_code == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
