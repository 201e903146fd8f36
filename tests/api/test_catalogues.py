"""The message catalogues (po/, core/i18n.h): every message of the sources is in po/ticketd.pot,
and every message of ticketd.pot has a translation in every language's catalogue. A new error
message or mail template that nobody translated fails here, not in a user's inbox.

No server: this reads po/ and runs scripts/update_po.sh --check (xgettext over the sources)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "po"
LANGUAGES = {"en", "hi", "ta"}
KEY = re.compile(r"\{\{[a-z_]+\}\}")
FORMAT = re.compile(r"%[sd]")


def entries(path: Path) -> dict[tuple[str | None, str], tuple[str, set[str]]]:
    """(msgctxt, msgid) -> (msgstr, flags) of a .po/.pot file, header and obsolete entries left
    out."""
    out = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        flags: set[str] = set()
        cur = None
        for line in block.splitlines():
            if line.startswith("#,"):
                flags |= {f.strip() for f in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif m := re.match(r'(msgctxt|msgid|msgstr) (".*")$', line):
                cur = m.group(1)
                fields[cur] = ast.literal_eval(m.group(2))
            elif line.startswith('"') and cur:
                fields[cur] += ast.literal_eval(line)
        if fields.get("msgid"):
            out[(fields.get("msgctxt"), fields["msgid"])] = (fields.get("msgstr", ""), flags)
    return out


def untranslated(pot: Path, po: Path) -> list[str]:
    """The messages of pot that po lacks, leaves empty or marks fuzzy."""
    have = entries(po)
    bad = []
    for key in entries(pot):
        s, flags = have.get(key, ("", set()))
        if not s.strip() or "fuzzy" in flags:
            bad.append(f"{key[0] + '|' if key[0] else ''}{key[1][:80]}")
    return bad


def test_every_language_has_a_catalogue():
    assert {p.stem for p in PO.glob("*.po")} >= LANGUAGES


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_every_message_is_translated(lang):
    pot = PO / "ticketd.pot"
    assert len(entries(pot)) > 150  # the error messages and the six mail templates
    bad = untranslated(pot, PO / f"{lang}.po")
    assert bad == [], f"{lang}.po: {len(bad)} messages without a translation: {bad[:10]}"


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_translations_keep_placeholders_and_the_mail_shape(lang):
    for (ctx, msgid), (msgstr, _) in entries(PO / f"{lang}.po").items():
        assert sorted(KEY.findall(msgstr)) == sorted(KEY.findall(msgid)) or (
            ctx == "mail-date"), (lang, ctx, msgid[:60])
        assert FORMAT.findall(msgstr) == FORMAT.findall(msgid), (lang, msgid)
        if ctx and ctx.startswith("mail:"):
            subject, _, rest = msgstr.partition("\n")
            assert subject.startswith("Subject: ") and rest.startswith("\n"), (lang, ctx)
    date = entries(PO / f"{lang}.po")[("mail-date", "{{year}}-{{mm}}-{{dd}} {{time}} ({{zone}})")]
    assert {"{{time}}", "{{zone}}", "{{year}}"} <= set(KEY.findall(date[0]))


def test_the_check_fails_on_a_message_nobody_translated(tmp_path):
    pot = tmp_path / "ticketd.pot"
    pot.write_text((PO / "ticketd.pot").read_text(encoding="utf-8") +
                   '\nmsgid "a brand new message"\nmsgstr ""\n', encoding="utf-8")
    assert untranslated(pot, PO / "hi.po") == ["a brand new message"]


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext is not installed")
def test_ticketd_pot_is_up_to_date_with_the_sources():
    r = subprocess.run([str(ROOT / "scripts/update_po.sh"), "--check"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_catalogues_compile_cleanly(lang, tmp_path):
    r = subprocess.run(["msgfmt", "--check", "-o", str(tmp_path / "x.mo"), str(PO / f"{lang}.po")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
