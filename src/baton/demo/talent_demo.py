"""The demo's talent pool: researchers of the eliminated teams who made profiles and consented to
be listed, and openings posted by organizations, so the talent pages show something.

Everything goes through ``baton.talent.service``, as a person would through the pages: each
profile has its collection consent, a pool consent naming the items it shows, and the visibility
its owner chose. Contacts are never listed (the pool consent cannot include them).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.demo import seed
from baton.talent import consent as notices
from baton.talent import service as talent

ML, NLP, CV, AI = "10010257", "10010179", "10010224", "10010178"
COMMUNITY = "open-community"  # challenge_demo.COMMUNITY (it imports this module)


@dataclass(frozen=True)
class DemoPerson:
    user: str
    name: str
    headline: str
    skills: tuple[str, ...]


@dataclass(frozen=True)
class DemoOpening:
    organization: str
    poster: str
    title: str
    description: str
    required: tuple[str, ...]
    preferred: tuple[str, ...]
    location: str


def seed_talent_pool(
    session: Session, people: tuple[DemoPerson, ...], openings: tuple[DemoOpening, ...]
) -> tuple[int, int]:
    """Profiles listed in the pool (users made where missing) and open positions; (people, openings)."""
    for person in people:
        account = accounts.find_account(session, person.user) or accounts.create_user(
            session, person.user, fullname=person.name
        )
        actor = accounts.actor_for(account)
        talent.create_profile(
            session,
            actor,
            talent.ProfileFields(
                name=person.name,
                contact_email=f"{person.user}@example.org",
                skills=list(person.skills),
                headline=person.headline,
            ),
            talent.CollectionConsent(
                notice_version=notices.CURRENT_VERSION[notices.COLLECTION], optional_items=["headline"], language="ko"
            ),
        )
        talent.grant_consent(
            session,
            actor,
            notices.POOL,
            notices.CURRENT_VERSION[notices.POOL],
            ["name", "skills", "headline"],
            language="ko",
        )
        talent.set_visibility(session, actor, "pool")
    for opening in openings:
        poster = accounts.act_as(session, opening.poster)
        talent.create_opening(
            session,
            poster,
            opening.organization,
            talent.OpeningFields(
                title=opening.title,
                description=opening.description,
                required_skills=list(opening.required),
                preferred_skills=list(opening.preferred),
                places=1,
                location=opening.location,
            ),
        )
    return len(people), len(openings)


# Members of the teams stage 1 eliminated (Gaon Tech, Dasom Labs) and one researcher who joined later.
PEOPLE = (
    DemoPerson("yuna", "정유나 Jung Yuna", "다솜랩스 출신 한국어 LLM 연구자 · Korean LLM researcher", (NLP, ML)),
    DemoPerson("dohyun", "최도현 Choi Dohyun", "가온테크 출신 멀티모달 엔지니어 · multimodal engineer", (CV, ML)),
    DemoPerson("haeun", "강하은 Kang Haeun", "평가·안전성 연구 · evaluation and safety research", (AI, NLP)),
)
OPENINGS = (
    DemoOpening(
        seed.ORGANIZATION,
        seed.MEMBER,
        "한국어 LLM 연구원 · Korean LLM researcher",
        "사전학습 데이터와 평가를 맡을 연구원을 찾습니다. "
        "We look for a researcher for pretraining data and evaluation.",
        (NLP,),
        (ML,),
        "Seoul",
    ),
    DemoOpening(
        COMMUNITY,
        seed.OPERATOR,
        "비전-언어 모델 엔지니어 · Vision-language model engineer",
        "공개 모델 위에 비전 타워를 학습합니다. Training vision towers on open models.",
        (CV,),
        (NLP, ML),
        "Daejeon",
    ),
)
