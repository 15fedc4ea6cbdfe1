"""Consent notices and the rules for consent (PIPA Arts. 15, 17 and 22).

A notice states the purpose, the items (required and optional, separately), the retention period
and the right to refuse with its consequence, in Korean and English. Notices are versioned:
a consent records the version it answered, and a new version is added here beside the old ones
(never edited in place) so that every recorded consent stays readable as it was given.

Purposes:

- ``collection``: keeping the profile so the person can use the pool (required to have a profile);
  each optional item is stored only if the person consented to collect it (Art. 22: declining an
  optional item never blocks the service).
- ``pool``: listing the profile to the organizations the person's visibility setting allows.
  The contact item is never listed; it goes only to named recipients.
- ``recommendation``: automated ranking of the person for openings and of openings for the person,
  and the non-binding matching (the person can refuse it at any time, and ask for human review).
- ``provision``: providing the profile to one named recipient organization (Art. 17). Each
  recipient needs its own consent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from baton.talent.errors import InvalidConsentError

COLLECTION = "collection"
POOL = "pool"
RECOMMENDATION = "recommendation"
PROVISION = "provision"
PURPOSES = (COLLECTION, POOL, RECOMMENDATION, PROVISION)
LANGUAGES = ("ko", "en")

REQUIRED_ITEMS = ("name", "contact", "skills")
OPTIONAL_ITEMS = (
    "headline",
    "keywords",
    "education",
    "career",
    "publications",
    "patents",
    "desired_roles",
    "places",
    "earliest_start",
    "service_status",
    "former_team",
)
ALL_ITEMS = REQUIRED_ITEMS + OPTIONAL_ITEMS

ITEM_LABELS: dict[str, dict[str, str]] = {
    "name": {"ko": "이름", "en": "name"},
    "contact": {"ko": "연락처(이메일)", "en": "contact (email)"},
    "skills": {"ko": "전문 분야(ACM CCS 코드)", "en": "expertise (ACM CCS codes)"},
    "headline": {"ko": "한 줄 소개", "en": "headline"},
    "keywords": {"ko": "전문 키워드", "en": "expertise keywords"},
    "education": {"ko": "학력", "en": "education"},
    "career": {"ko": "경력", "en": "career"},
    "publications": {"ko": "논문(링크)", "en": "publications (links)"},
    "patents": {"ko": "특허(링크)", "en": "patents (links)"},
    "desired_roles": {"ko": "희망 직무", "en": "desired roles"},
    "places": {"ko": "희망 근무지", "en": "places"},
    "earliest_start": {"ko": "근무 가능 시작일", "en": "earliest start date"},
    "service_status": {"ko": "복무 상태(전문연구요원 등)", "en": "service status (alternative military service)"},
    "former_team": {"ko": "이전 소속 팀(대회)", "en": "former challenge team"},
}


@dataclass(frozen=True)
class Notice:
    """One version of the notice for one purpose."""

    purpose: str
    version: str
    required_items: tuple[str, ...]
    optional_items: tuple[str, ...]
    retention_days: int
    text: dict[str, dict[str, str]] = field(default_factory=dict)  # language -> section -> text

    @property
    def items(self) -> tuple[str, ...]:
        return self.required_items + self.optional_items

    def render(self, language: str = "ko", recipient: str | None = None) -> dict[str, Any]:
        """The notice as shown to a person: every section in ``language``, recipient filled in."""
        if language not in LANGUAGES:
            raise InvalidConsentError(f"No notice in language '{language}'", hint="Use 'ko' or 'en'.")
        sections = {key: value.replace("{recipient}", recipient or "—") for key, value in self.text[language].items()}
        return {
            "purpose": self.purpose,
            "version": self.version,
            "language": language,
            "recipient": recipient,
            "required_items": [{"item": item, "label": ITEM_LABELS[item][language]} for item in self.required_items],
            "optional_items": [{"item": item, "label": ITEM_LABELS[item][language]} for item in self.optional_items],
            "retention_days": self.retention_days,
            **sections,
        }


RETENTION_DAYS = 730  # two years from consent (renewable by the person)

_NOTICES_2026_1 = (
    Notice(
        purpose=COLLECTION,
        version="2026.1",
        required_items=REQUIRED_ITEMS,
        optional_items=OPTIONAL_ITEMS,
        retention_days=RETENTION_DAYS,
        text={
            "ko": {
                "title": "인력 풀 프로필 수집·이용 동의",
                "purpose_text": "대회 종료·탈락 후 연구자의 후속 일자리 연결(인력 풀 프로필 관리, 초대·알림, "
                "전 소속 팀별 공정성 통계).",
                "retention": "동의일로부터 2년(갱신 가능). 기간이 끝나거나 삭제를 요청하면 지체 없이 파기합니다.",
                "refusal": "동의를 거부할 권리가 있습니다. 필수 항목에 동의하지 않으면 프로필을 만들 수 없으나, "
                "선택 항목에 동의하지 않아도 서비스 이용에는 제한이 없습니다.",
            },
            "en": {
                "title": "Consent to collect and use your talent pool profile",
                "purpose_text": "Connecting researchers to new places after their challenge team leaves (keeping "
                "the profile, invitations and notices, fairness statistics per former team).",
                "retention": "Two years from consent (renewable). The profile is destroyed without delay when "
                "the period ends or when you ask for deletion.",
                "refusal": "You may refuse. Without the required items no profile can be made; declining any "
                "optional item never limits the service.",
            },
        },
    ),
    Notice(
        purpose=POOL,
        version="2026.1",
        required_items=("skills",),
        optional_items=tuple(item for item in ALL_ITEMS if item not in ("skills", "contact")),
        retention_days=RETENTION_DAYS,
        text={
            "ko": {
                "title": "인력 풀 게시 동의",
                "purpose_text": "공개 범위 설정(전체 인력 풀, 선택한 기관, 비공개)에 따라 채용 기관 구성원에게 "
                "프로필을 보여 줍니다. 숨김 기관 목록의 구성원에게는 보이지 않습니다. 연락처는 게시하지 않습니다.",
                "retention": "동의 철회 또는 프로필 파기 시까지. 철회하면 즉시 비공개가 됩니다.",
                "refusal": "동의를 거부할 권리가 있으며, 거부하면 프로필은 비공개로 유지됩니다.",
            },
            "en": {
                "title": "Consent to list your profile in the talent pool",
                "purpose_text": "Your profile is shown to members of hiring organizations as your visibility "
                "setting allows (whole pool, chosen organizations, nobody), never to members of organizations "
                "you hide from. Your contact is never listed.",
                "retention": "Until you withdraw or the profile is destroyed; withdrawing hides it at once.",
                "refusal": "You may refuse; the profile then stays visible to nobody.",
            },
        },
    ),
    Notice(
        purpose=RECOMMENDATION,
        version="2026.1",
        required_items=("skills",),
        optional_items=(
            "headline",
            "keywords",
            "education",
            "career",
            "publications",
            "patents",
            "desired_roles",
            "places",
            "earliest_start",
        ),
        retention_days=RETENTION_DAYS,
        text={
            "ko": {
                "title": "자동화된 추천·매칭 이용 동의",
                "purpose_text": "기술 분류(ACM CCS)와 텍스트 유사도로 채용 공고와 사람을 자동으로 순위화하고, "
                "구속력 없는 매칭(지원자 제안 지연 수락)을 계산합니다. 성별·나이·국적은 사용하지 않습니다. "
                "모든 추천에는 그 이유가 표시되며, 언제든 자동 추천을 거부하고 사람의 검토를 요청할 수 있습니다.",
                "retention": "동의 철회 또는 프로필 파기 시까지.",
                "refusal": "동의를 거부할 권리가 있으며, 거부해도 공고를 직접 찾고 지원하는 데 제한이 없습니다.",
            },
            "en": {
                "title": "Consent to automated recommendation and matching",
                "purpose_text": "Openings and people are ranked automatically from the skill taxonomy (ACM CCS) "
                "and text similarity, and a non-binding matching (applicant-proposing deferred acceptance) is "
                "computed. Gender, age and nationality are never used. Every recommendation shows why; you may "
                "refuse automated recommendation at any time and ask for a human review.",
                "retention": "Until you withdraw or the profile is destroyed.",
                "refusal": "You may refuse; you can still browse and apply to openings yourself.",
            },
        },
    ),
    Notice(
        purpose=PROVISION,
        version="2026.1",
        required_items=REQUIRED_ITEMS,
        optional_items=OPTIONAL_ITEMS,
        retention_days=365,
        text={
            "ko": {
                "title": "개인정보 제3자 제공 동의",
                "purpose_text": "제공받는 자: {recipient}. 제공 목적: 채용·연구 참여 검토 및 연락.",
                "retention": "제공받는 자는 채용 목적 달성 시 또는 제공일로부터 1년 중 먼저 도래하는 때까지 "
                "보유합니다. 동의를 철회하면 Baton을 통한 열람은 즉시 중단됩니다.",
                "refusal": "동의를 거부할 권리가 있으며, 거부하면 해당 기관에 프로필이 제공되지 않습니다. "
                "다른 서비스 이용에는 제한이 없습니다.",
            },
            "en": {
                "title": "Consent to provide your profile to a third party",
                "purpose_text": "Recipient: {recipient}. Purpose: considering you for a place or research role "
                "and contacting you.",
                "retention": "The recipient keeps it until the hiring purpose is met or one year from provision, "
                "whichever is sooner. Withdrawing stops access through Baton at once.",
                "refusal": "You may refuse; the profile is then not provided to that recipient. Nothing else changes.",
            },
        },
    ),
)

NOTICES: dict[tuple[str, str], Notice] = {(notice.purpose, notice.version): notice for notice in _NOTICES_2026_1}
CURRENT_VERSION: dict[str, str] = {COLLECTION: "2026.1", POOL: "2026.1", RECOMMENDATION: "2026.1", PROVISION: "2026.1"}


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise InvalidConsentError(
            f"Unknown consent purpose '{purpose}'", hint="Use one of: " + ", ".join(PURPOSES) + "."
        )
    return purpose


def current_notice(purpose: str) -> Notice:
    return NOTICES[(check_purpose(purpose), CURRENT_VERSION[purpose])]


def get_notice(purpose: str, version: str) -> Notice:
    notice = NOTICES.get((check_purpose(purpose), version))
    if notice is None:
        raise InvalidConsentError(
            f"No '{purpose}' notice has version '{version}'",
            hint=f"The current version is '{CURRENT_VERSION[purpose]}' (GET /api/talent/notices).",
        )
    return notice


def validate_consent_items(purpose: str, notice_version: str, items: list[str] | tuple[str, ...]) -> list[str]:
    """The items of a new consent, checked against the current notice: required ones added, unknown refused."""
    notice = get_notice(purpose, notice_version)
    if notice_version != CURRENT_VERSION[purpose]:
        raise InvalidConsentError(
            f"The '{purpose}' notice you answered (version {notice_version}) has been replaced",
            hint=f"Read the current version '{CURRENT_VERSION[purpose]}' and consent to that one.",
        )
    unknown = [item for item in items if item not in notice.items]
    if unknown:
        raise InvalidConsentError(
            f"The '{purpose}' notice does not list: {', '.join(sorted(set(unknown)))}",
            hint="Name only items from the notice: " + ", ".join(notice.items) + ".",
        )
    chosen = set(items) | set(notice.required_items)
    return [item for item in ALL_ITEMS if item in chosen]
