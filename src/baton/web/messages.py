"""What the domains say, in the page's language: service errors, commons states and hold reasons,
provenance statuses and verdicts, content scan results.

The domains speak English to the API and to logs, and give structured codes beside it (an error's
``code``, a release item's ``state``, a finding's ``kind``, a scan's ``format``). Pages translate
the codes through the catalogues (each message here is marked with ``N_``); English text that has
no code (an error whose code is not listed, a scan's detail such as ``dtype float32``) is kept as
it is, after a translated lead that says what it is.

Templates reach the tables through the ``say(table, value)`` global (``templating``), which
answers the value itself when the table does not know it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from baton.core.errors import BatonError
from baton.hub import formats
from baton.web.i18n import N_, translate

# Error code -> (message, hint or None). Messages do not repeat the English one's particulars (a
# name, a path): the page around them says which repo or person it is about.
SERVICE_ERRORS: Final[dict[str, tuple[str, str | None]]] = {
    "NoProfile": (
        N_("You have no talent profile yet."),
        N_("Create your talent profile first, on the My profile page."),
    ),
    "ProfileNotFound": (N_("This talent profile is not there, or not shown to you."), None),
    "ProfileSuspended": (
        N_("Processing of your profile is suspended."),
        N_("Resume it on the My profile page first."),
    ),
    "ProfileExists": (N_("You already have a talent profile."), N_("Correct it on the My profile page.")),
    "ConsentRequired": (
        N_("This needs your consent first."),
        N_("Read the notice and give consent for this purpose on the My profile page."),
    ),
    "OpeningNotFound": (N_("This opening is not there, or no longer open."), None),
    "RepoNotFound": (N_("This repo is not there, or not shown to you."), None),
    "RevisionNotFound": (N_("This branch, tag or commit is not in the repo."), None),
    "EntryNotFound": (N_("This file is not in the repo at this revision."), None),
    "RepoExists": (N_("A repo of this name already exists."), None),
    "Forbidden": (N_("You may not do this."), None),
    "Unauthorized": (N_("Sign in first."), None),
}
UNTRANSLATED_LEAD: Final = N_("Baton's message (in English):")

RELEASE_STATES: Final = {
    "pending": N_("pending"),
    "held": N_("held"),
    "embargoed": N_("embargoed"),
    "released": N_("released"),
}
# A held release item's open findings, by kind (commons.catalogue.HELD_NOTES in English).
HOLD_REASONS: Final = {
    "pii": N_("held: personal data found in the files; an operator must resolve it"),
    "license": N_("held: its license conflicts with a base model's; an operator must resolve it"),
    "missing": N_("held: the planned repo is not in the hub"),
}
HOLD_OTHER: Final = N_("held: %(kind)s")
EXIT_REASONS: Final = {"eliminated": N_("eliminated")}
PROVENANCE_STATUSES: Final = {
    "flagged": N_("flagged"),
    "checked": N_("checked"),
    "no references": N_("no references"),
    "pending": N_("rescan pending"),
    "stale": N_("not rescanned"),
}
VERDICTS: Final = {
    "derived": N_("derived"),
    "copied": N_("copied"),
    "independent": N_("independent"),
    "inconclusive": N_("inconclusive"),
}
SCAN_FORMATS: Final = {
    "pickle": N_("Python pickle"),
    "torch-zip": N_("PyTorch checkpoint (zip)"),
    "torch-legacy": N_("PyTorch checkpoint (legacy pickle)"),
    "numpy": N_("NumPy array (.npy)"),
    "numpy-object": N_("NumPy object array (.npy, holds a pickle)"),
    "npz": N_("NumPy archive (.npz)"),
    "zip": N_("zip archive"),
    "tar": N_("tar archive"),
    "safetensors": N_("safetensors"),
    "gguf": N_("GGUF"),
    "ggml": N_("legacy GGML (llama.cpp before GGUF)"),
    "ctranslate2": N_("CTranslate2 model"),
    "onnx": N_("ONNX model"),
    "megatron-index": N_("Megatron indexed dataset index"),
    "hdf5": N_("HDF5"),
    "text": N_("text"),
    "empty": N_("empty file"),
    "unknown": N_("unknown binary"),
}
COMPRESSED: Final = N_("compressed with %(layers)s (outermost first)")
_COMPRESSION_LEAD: Final = ", compressed with "

# A variant's kind (a model card's variant.kind, baton.hub.variants.KINDS).
VARIANT_KINDS: Final = {
    "quantized": N_("quantized"),
    "pruned": N_("pruned"),
    "distilled": N_("distilled"),
    "onnx": N_("ONNX graph"),
    "compiled": N_("compiled for a chip"),
}

TABLES: Final[dict[str, dict[str, str]]] = {
    "release_state": RELEASE_STATES,
    "variant_kind": VARIANT_KINDS,
    "exit_reason": EXIT_REASONS,
    "provenance_status": PROVENANCE_STATUSES,
    "verdict": VERDICTS,
}


def say(lang: str, table: str, value: str) -> str:
    """``value`` (a code of ``table``) in ``lang``; the value itself when the table does not know it."""
    message = TABLES[table].get(value)
    return translate(lang, message) if message is not None else value


def hold_reason(lang: str, kind: str) -> str:
    """Why a release item is held, for an open finding of ``kind``."""
    message = HOLD_REASONS.get(kind)
    return translate(lang, message) if message is not None else translate(lang, HOLD_OTHER, kind=kind)


@dataclass(frozen=True)
class ShownError:
    """A service error as a page shows it: a message and a hint in the page's language, and the
    service's English message as ``detail`` where its code has no translation (None otherwise)."""

    message: str
    hint: str
    detail: str | None = None
    code: str = ""

    def text(self) -> str:
        """Message and detail on one line (for pages that show an error as a sentence)."""
        return f"{self.message} {self.detail}" if self.detail else self.message


def shown_error(lang: str, error: BatonError) -> ShownError:
    """``error`` in ``lang``: its code's message and hint, or a translated lead and its own text."""
    known = SERVICE_ERRORS.get(error.code)
    if known is not None:
        message, hint = known
        return ShownError(translate(lang, message), translate(lang, hint) if hint else "", None, error.code)
    if lang == "en" or not error.message.isascii():  # English asked for, or already in the page's language
        return ShownError(error.message, error.hint, None, error.code)
    detail = error.message + (f" ({error.hint})" if error.hint else "")
    return ShownError(translate(lang, UNTRANSLATED_LEAD), "", detail, error.code)


def error_text(lang: str, error: BatonError) -> str:
    """``error`` in ``lang`` as one sentence (see :func:`shown_error`)."""
    return shown_error(lang, error).text()


def scan_text(lang: str, format: str, description: str) -> str:
    """What the content scan found a file to be (``FileScan.format`` and ``.description``), in ``lang``:
    the format's name translated; its detail (``dtype float32``, ``3 members``) kept as it is."""
    name = SCAN_FORMATS.get(format)
    english = formats.NAMES.get(format)
    if lang == "en" or name is None or english is None or not description.startswith(english):
        return description
    rest = description[len(english) :]
    compression = ""
    if _COMPRESSION_LEAD in rest:
        rest, layers = rest.split(_COMPRESSION_LEAD, 1)
        compression = ", " + translate(lang, COMPRESSED, layers=", ".join(layers.split(" around ")))
    return translate(lang, name) + rest + compression
