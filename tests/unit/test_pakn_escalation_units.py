"""Pieces of pakn.escalation that need no database: when, to whom, and the data file's checks."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pakn.escalation import ESCALATION_FILE, escalate_at, load_escalation, supervisor_of, sweep_due

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_grace_period_counts_working_days() -> None:
    due = datetime(2026, 12, 4, 17, 0, tzinfo=VN)  # a Friday
    assert escalate_at(due, 3) == datetime(2026, 12, 9, 17, 0, tzinfo=VN)  # Wed: the weekend is skipped
    assert escalate_at(due, 0) == due


def test_supervisor_is_the_province_body_unless_the_office_is_that_body() -> None:
    cfg = load_escalation()
    assert supervisor_of("tay-ninh.xa.phuong-tan-ninh", None, cfg) == "tay-ninh.van-phong-ubnd"
    assert supervisor_of("tay-ninh.so-y-te", None, cfg) == "tay-ninh.van-phong-ubnd"
    assert supervisor_of("tay-ninh.van-phong-ubnd", None, cfg) == "tay-ninh.ubnd-tinh"
    assert supervisor_of("office-x", {"province_slug": "can-tho"}, cfg) == "can-tho.van-phong-ubnd"
    override = cfg.model_copy(update={"supervisors": {"tay-ninh.so-y-te": "tay-ninh.ubnd-tinh"}})
    assert supervisor_of("tay-ninh.so-y-te", None, override) == "tay-ninh.ubnd-tinh"


def test_worker_sweeps_at_most_every_interval() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert sweep_due(None, now, 300)
    assert not sweep_due(now, now + timedelta(seconds=299), 300)
    assert sweep_due(now, now + timedelta(seconds=300), 300)


def test_unknown_body_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "escalation.yaml"
    path.write_text(ESCALATION_FILE.read_text(encoding="utf-8").replace("supervisor_body: van-phong-ubnd",
                                                                        "supervisor_body: no-such-body"),
                    encoding="utf-8")
    with pytest.raises(ValueError, match="escalation.yaml.*no-such-body"):
        load_escalation(path)
