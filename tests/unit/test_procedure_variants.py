"""The procedure-variant families: the shipped file loads, a bad one names the file and the line,
and a question is read against the families (which one, and whether its words choose)."""
from __future__ import annotations

import textwrap

import pytest

from bot.variants import read_variant
from knowledge.errors import KnowledgeError
from knowledge.procedure_variants import load_variants, procedure_variants
from knowledge.procedures import load_catalogue

GOOD = """\
families:
  - id: ket-hon
    question: Bạn cần giấy tờ nào về hôn nhân?
    triggers: [giấy kết hôn]
    options:
      - label: Đăng ký kết hôn
        procedure: dang-ky-ket-hon
        words: [đăng ký, lấy vợ]
      - label: Xác nhận độc thân
        procedure: xac-nhan-tinh-trang-hon-nhan
        words: [độc thân]
"""


def write(tmp_path, text: str):
    path = tmp_path / "variants.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


class TestLoading:
    def test_the_shipped_families_name_catalogue_procedures(self):
        catalogue = load_catalogue()
        families = procedure_variants().families
        assert {"khai-sinh", "can-cuoc", "so-do", "chung-thuc", "khai-tu"} <= {f.id for f in families}
        for family in families:
            for option in family.options:
                assert catalogue.get(option.procedure) is not None and catalogue.get(option.procedure).key == option.procedure
            assert family.default is None or family.default in family.procedures

    def test_words_and_triggers_are_folded_like_the_catalogue(self, tmp_path):
        family = load_variants(write(tmp_path, GOOD)).families[0]
        assert family.triggers == ("giay ket hon",)
        assert family.options[0].words == ("dang ki", "lay vo")  # "đăng ký" → "dang ki", as match_fold reads it
        assert family.options[0].procedure == load_catalogue().get("dang-ky-ket-hon").key

    def test_an_unknown_procedure_names_the_file_line_and_id(self, tmp_path):
        path = write(tmp_path, GOOD.replace("procedure: xac-nhan-tinh-trang-hon-nhan", "procedure: xac-nhan-doc-than"))
        with pytest.raises(KnowledgeError) as e:
            load_variants(path)
        assert f"{path}:10:" in str(e.value)
        assert "'xac-nhan-doc-than' is not in the catalogue" in str(e.value)

    def test_a_default_that_is_no_option_is_refused(self, tmp_path):
        path = write(tmp_path, GOOD.replace("    triggers:", "    default: dang-ky-khai-sinh\n    triggers:"))
        with pytest.raises(KnowledgeError, match=r"variants\.yaml:2: .*default 'dang-ky-khai-sinh' is not the procedure"):
            load_variants(path)

    def test_a_missing_question_names_its_family(self, tmp_path):
        path = write(tmp_path, GOOD.replace("    question: Bạn cần giấy tờ nào về hôn nhân?\n", ""))
        with pytest.raises(KnowledgeError, match=r"variants\.yaml:2: 'families\.0\.question': Field required"):
            load_variants(path)

    def test_a_family_with_one_option_is_refused(self, tmp_path):
        one = GOOD.split("      - label: Xác nhận độc thân")[0]
        with pytest.raises(KnowledgeError, match=r":6: 'families\.0\.options': List should have at least 2 items"):
            load_variants(write(tmp_path, one))

    def test_a_twice_used_family_id_is_refused(self, tmp_path):
        twice = GOOD + GOOD.split("families:\n", 1)[1]
        with pytest.raises(KnowledgeError, match=r":12: family id 'ket-hon' is used twice"):
            load_variants(write(tmp_path, twice))

    def test_a_label_too_long_for_a_button_is_refused(self, tmp_path):
        path = write(tmp_path, GOOD.replace("label: Xác nhận độc thân", "label: " + "Xác nhận " * 10))
        with pytest.raises(KnowledgeError, match=r":9: 'families\.0\.options\.1\.label'"):
            load_variants(path)

    def test_broken_yaml_names_the_line(self, tmp_path):
        with pytest.raises(KnowledgeError, match=r"variants\.yaml:5: invalid YAML"):
            load_variants(write(tmp_path, GOOD.replace("triggers: [giấy kết hôn]", "triggers: [giấy kết hôn")))


class TestReading:
    @pytest.mark.parametrize(("text", "family", "chosen"), [
        ("lam cccd can gi", "can-cuoc", None),
        ("mat cccd lam lai o dau", "can-cuoc", "cap-lai-the-can-cuoc"),
        ("doi can cuoc khi du 25 tuoi", "can-cuoc", "cap-doi-the-can-cuoc"),
        ("chung thuc het bao nhieu", "chung-thuc", None),
        ("chung thuc chu ky nguoi dich", "chung-thuc", "chung-thuc-chu-ky-nguoi-dich"),  # longest phrase wins
        ("khai sinh qua han", "khai-sinh", "1.001193"),
        ("lam lai giay khai sinh bi mat", "mat-giay-khai-sinh", None),  # the longer trigger's family
        ("khai tu va xoa ho khau cung luc", "khai-tu", "lien-thong-khai-tu-xoa-thuong-tru-mai-tang"),
    ])
    def test_the_family_and_what_the_words_choose(self, text, family, chosen):
        match = read_variant(text, procedure_variants(), load_catalogue())
        assert match is not None and match.family.id == family
        assert (match.chosen.procedure if match.chosen else None) == chosen

    @pytest.mark.parametrize("text", ["xin ban sao giay khai sinh", "sua giay khai sinh sai ngay sinh",
                                      "sang ten so do", "dang ky giam ho can gi"])
    def test_a_question_naming_another_procedure_is_left_to_the_catalogue(self, text):
        assert read_variant(text, procedure_variants(), load_catalogue()) is None


def test_every_family_s_buttons_reach_zalo_as_quick_replies_that_send_the_label_back():
    from bot.types import Reply
    from bot.variants import ask_reply, offer_others
    from webhooks.zalo_client import _buttons

    for family in procedure_variants().families:
        replies = [ask_reply(family)] if family.default is None else [
            offer_others(Reply(reply="…", intent="procedure", answered=True), family, family.default)]
        for reply in replies:
            labels = [o.label for o in family.options if o.procedure != family.default]
            buttons = _buttons(reply.suggestions)
            assert [(b["title"], b["payload"], b["type"]) for b in buttons][:len(labels)] == \
                [(label, label, "oa.query.show") for label in labels]


def test_the_cli_checks_a_file_and_names_the_bad_line(tmp_path):
    from typer.testing import CliRunner

    from knowledge.tthc_cli import app

    runner = CliRunner()
    good = runner.invoke(app, ["variants", "--file", str(write(tmp_path, GOOD))])
    assert good.exit_code == 0 and "ket-hon: Bạn cần giấy tờ nào về hôn nhân?" in good.output
    bad = write(tmp_path, GOOD.replace("procedure: dang-ky-ket-hon", "procedure: dang-ky-ket-hon-2"))
    result = runner.invoke(app, ["variants", "--file", str(bad)])
    assert result.exit_code == 1 and f"{bad}:7:" in result.output and "'dang-ky-ket-hon-2'" in result.output
