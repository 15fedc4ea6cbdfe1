"""A whole simulated challenge, end to end through the real services, for `baton demo`.

Five teams enter with tiny models written here with numpy (no torch): three built independently,
one fine-tuned from a foreign base model without declaring it, and one carrying a vision encoder
copied bit for bit from a foreign model. What happens then is what would happen to real teams:

1. each team submits a pinned hub revision before the stage deadline (held by the hub);
2. provenance fingerprints every model and compares each submission with the others of its width
   and with any model sharing a tensor (real compares);
3. the benchmarks run through the evaluation runner on the builtin KMMLU and KoBEST COPA tasks,
   whose (tiny, generated) data sit in hub dataset repos, with the deterministic ``dummy`` backend
   (the base install has no torch), and the scores are recorded, targets included;
4. four expert reviewers score the teams on the rubric (one is affiliated with a team and is
   refused for it), and fourteen voters judge blind answer pairs in the arena: three of them vote
   against the consensus on purpose and one answer names its model, so both are excluded;
5. the independence gate reads the provenance reports: the copied encoder fails it, the undeclared
   derivation goes to the operator, who rules with a written reason; the stage is decided;
6. an eliminated team appeals, the operator answers, the appeal window closes (the demo moves an
   injectable clock), the decision becomes final and the eliminated teams' release plans run: repos
   opened, tagged and listed in the commons, a dataset held for personal data, a derivative held for
   its non-commercial base, a compressed model under embargo;
7. the community builds on a released model and downloads it; stage 2 opens with battles waiting
   for a person to vote in the browser.

The simulated timeline ends two days before the real now, so stage 2 is open when the server starts.
Everything lands in the challenge's ledger, which ``baton challenge verify`` checks. The teams' repos
are private, so the ledger names them by pseudonyms and commitments; the eliminated teams' released
models are revealed at finality, the others stay sealed, as do stage 2's battles while it votes.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.models import Account
from baton.challenge import service, standings
from baton.challenge.errors import ConflictOfInterestError
from baton.commons import release
from baton.core import clock, events
from baton.core.runtime import Runtime
from baton.demo import seed, talent_demo, variants_demo
from baton.hub import cards, commits, repos
from baton.hub.models import Repo

SLUG = "baton-demo"
STAGE_1, STAGE_2 = "stage-1", "stage-2"
FOREIGN = "global-open"
COMMUNITY = "open-community"
BENCHMARKS = "benchmarks"
GUEST_VOTER = "guest-voter"
RANDOM_SEED = 2026

FloatArray = npt.NDArray[np.float32]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoTeam:
    slug: str
    name: str
    organization: str
    organization_name: str
    member: str
    member_name: str
    strength: float  # latent arena strength (Elo scale) the simulated voters follow
    review: float  # latent expert-review quality, 0-10
    width: int
    weights_seed: int


TEAMS = (
    DemoTeam(
        "team-hanbit",
        "Hanbit AI",
        seed.ORGANIZATION,
        "Hanbit AI consortium",
        seed.MEMBER,
        "Kim Minji",
        1300,
        8.6,
        24,
        500,
    ),
    DemoTeam("team-saebyeol", "Saebyeol Lab", "saebyeol-lab", "Saebyeol Lab", "jiho", "Park Jiho", 1150, 7.8, 24, 501),
    DemoTeam("team-nuri", "Nuri AI", "nuri-ai", "Nuri AI", "seoyeon", "Lee Seoyeon", 1050, 7.1, 24, 502),
    DemoTeam("team-gaon", "Gaon Tech", "gaon-tech", "Gaon Tech", "dohyun", "Choi Dohyun", 950, 6.6, 32, 503),
    DemoTeam("team-dasom", "Dasom Labs", "dasom-labs", "Dasom Labs", "yuna", "Jung Yuna", 800, 5.9, 24, 505),
)
GAON, DASOM, NURI = TEAMS[3], TEAMS[4], TEAMS[2]
REVIEWERS = (
    ("reviewer-kim", None),
    ("reviewer-lee", None),
    ("reviewer-park", None),
    ("reviewer-choi", NURI.organization),
)
VOTERS = tuple(f"voter{number:02d}" for number in range(1, 15))
CONTRARIANS = frozenset(VOTERS[-3:])

PROMPTS = (
    "서울에서 가볼 만한 역사 유적지를 추천해 주세요.",
    "김치찌개를 맛있게 끓이는 방법을 알려 주세요.",
    "Explain in two sentences why the sky is blue.",
    "한국어 맞춤법에서 '되'와 '돼'는 어떻게 구분하나요?",
    "What should a small lab check before releasing a dataset?",
)
ANSWERS = {
    "good": (
        "경복궁, 창덕궁, 종묘를 추천합니다. 창덕궁 후원은 예약이 필요하고, 종묘는 토요일에 자유 관람이 됩니다.",
        "묵은지를 먼저 돼지고기와 볶은 뒤 육수를 붓고 20분 이상 끓이세요. 두부와 파는 마지막에 넣습니다.",
        "Sunlight scatters off air molecules, and shorter blue wavelengths scatter far more than red ones. "
        "So blue light reaches our eyes from every direction of the sky.",
        "'되'에 '어'를 붙인 '되어'를 줄이면 '돼'가 됩니다. '하'를 넣어 말이 되면 '돼', '하여'가 되면 '되'를 씁니다.",
        "Check the license of every source, scan for personal data, document how it was collected, "
        "and keep a held-out split that was never published.",
    ),
    "fair": (
        "경복궁과 남산타워가 유명합니다.",
        "김치와 고기를 넣고 끓이면 됩니다.",
        "Because of the atmosphere scattering light.",
        "'돼'는 '되어'의 줄임말입니다.",
        "Check the license and remove personal data.",
    ),
    "poor": (
        "서울에는 건물이 많습니다.",
        "찌개는 맛있습니다.",
        "The sky is blue because it reflects the ocean.",
        "둘 다 같은 뜻입니다.",
        "Nothing special is needed.",
    ),
}


@dataclass
class ChallengeDemoResult:
    created: bool
    slug: str = SLUG
    tokens: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    head: str | None = None
    bundle_path: str | None = None
    seconds: float = 0.0


# --------------------------------------------------------------------------------------------- models


def safetensors_from_numpy(state: dict[str, FloatArray]) -> bytes:
    """Serialize float32 arrays in the safetensors layout (8-byte header length, JSON header, data)."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset, blobs = 0, []
    for name, value in state.items():
        data = np.ascontiguousarray(value, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(value.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs)


VOCABULARY = 42  # the character tokenizer of baton.demo.seed
POSITIONS = 64
LAYERS = 2


def gpt2_state(seed_value: int, width: int) -> dict[str, FloatArray]:
    """Randomly initialised GPT-2 weights (what a team's pretraining would start from)."""
    rng = np.random.default_rng(seed_value)

    def normal(*shape: int) -> FloatArray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def ones(size: int) -> FloatArray:
        return (1.0 + rng.standard_normal(size) * 0.05).astype(np.float32)

    def zeros(size: int) -> FloatArray:
        return (rng.standard_normal(size) * 0.01).astype(np.float32)

    state = {"transformer.wte.weight": normal(VOCABULARY, width), "transformer.wpe.weight": normal(POSITIONS, width)}
    for layer in range(LAYERS):
        prefix = f"transformer.h.{layer}."
        state |= {
            prefix + "ln_1.weight": ones(width),
            prefix + "ln_1.bias": zeros(width),
            prefix + "attn.c_attn.weight": normal(width, 3 * width),
            prefix + "attn.c_attn.bias": zeros(3 * width),
            prefix + "attn.c_proj.weight": normal(width, width),
            prefix + "attn.c_proj.bias": zeros(width),
            prefix + "ln_2.weight": ones(width),
            prefix + "ln_2.bias": zeros(width),
            prefix + "mlp.c_fc.weight": normal(width, 4 * width),
            prefix + "mlp.c_fc.bias": zeros(4 * width),
            prefix + "mlp.c_proj.weight": normal(4 * width, width),
            prefix + "mlp.c_proj.bias": zeros(width),
        }
    return state | {"transformer.ln_f.weight": ones(width), "transformer.ln_f.bias": zeros(width)}


def llama_state(seed_value: int, width: int) -> dict[str, FloatArray]:
    """Randomly initialised Llama weights (tied embeddings): what torchao can quantize (its Linear layers)."""
    rng = np.random.default_rng(seed_value)

    def normal(*shape: int) -> FloatArray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def ones(size: int) -> FloatArray:
        return (1.0 + rng.standard_normal(size) * 0.05).astype(np.float32)

    state = {"model.embed_tokens.weight": normal(VOCABULARY, width)}
    for layer in range(LAYERS):
        prefix = f"model.layers.{layer}."
        state |= {
            prefix + "input_layernorm.weight": ones(width),
            prefix + "post_attention_layernorm.weight": ones(width),
        }
        for projection in ("q_proj", "k_proj", "v_proj", "o_proj"):
            state[prefix + f"self_attn.{projection}.weight"] = normal(width, width)
        state |= {
            prefix + "mlp.gate_proj.weight": normal(2 * width, width),
            prefix + "mlp.up_proj.weight": normal(2 * width, width),
            prefix + "mlp.down_proj.weight": normal(width, 2 * width),
        }
    return state | {"model.norm.weight": ones(width)}


def vision_tower_state(seed_value: int, width: int = 32, layers: int = 2) -> dict[str, FloatArray]:
    """A small CLIP-style vision encoder (patch embedding, pre-norm blocks, post-norm)."""
    rng = np.random.default_rng(seed_value)

    def normal(*shape: int) -> FloatArray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def gains(size: int) -> FloatArray:
        return (1.0 + rng.standard_normal(size) * 0.05).astype(np.float32)

    prefix = "vision_tower.vision_model."
    state = {
        prefix + "embeddings.patch_embedding.weight": normal(width, 3, 4, 4),
        prefix + "embeddings.position_embedding.weight": normal(17, width),
    }
    for layer in range(layers):
        block = f"{prefix}encoder.layers.{layer}."
        for projection in ("q_proj", "k_proj", "v_proj", "out_proj"):
            state[block + f"self_attn.{projection}.weight"] = normal(width, width)
            state[block + f"self_attn.{projection}.bias"] = normal(width)
        state |= {
            block + "layer_norm1.weight": gains(width),
            block + "layer_norm1.bias": normal(width),
            block + "mlp.fc1.weight": normal(4 * width, width),
            block + "mlp.fc1.bias": normal(4 * width),
            block + "mlp.fc2.weight": normal(width, 4 * width),
            block + "mlp.fc2.bias": normal(width),
            block + "layer_norm2.weight": gains(width),
            block + "layer_norm2.bias": normal(width),
        }
    return state | {prefix + "post_layernorm.weight": gains(width), prefix + "post_layernorm.bias": normal(width)}


def fine_tuned(state: dict[str, FloatArray], seed_value: int, scale: float = 0.15) -> dict[str, FloatArray]:
    """What further training leaves: every weight moved a little (relative ``scale``) from the base."""
    rng = np.random.default_rng(seed_value)
    return {
        name: (value + rng.standard_normal(value.shape).astype(np.float32) * float(np.std(value)) * scale).astype(
            np.float32
        )
        for name, value in state.items()
    }


_TOKENIZER: dict[str, bytes] = {}


def model_files(
    state: dict[str, FloatArray], width: int, card: dict[str, Any], title: str, body: str
) -> dict[str, bytes]:
    if not _TOKENIZER:
        files = seed.tiny_gpt2_files()
        _TOKENIZER.update({name: files[name] for name in ("tokenizer.json", "tokenizer_config.json")})
    config: dict[str, Any] = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": VOCABULARY,
        "n_positions": POSITIONS,
        "n_embd": width,
        "n_layer": LAYERS,
        "n_head": 2,
        "bos_token_id": 0,
        "eos_token_id": 0,
        "tie_word_embeddings": True,
    }
    if "model.embed_tokens.weight" in state:  # a Llama (llama_state)
        config = {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": VOCABULARY,
            "max_position_embeddings": POSITIONS,
            "hidden_size": width,
            "intermediate_size": 2 * width,
            "num_hidden_layers": LAYERS,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "rms_norm_eps": 1e-5,
            "bos_token_id": 0,
            "eos_token_id": 0,
            "tie_word_embeddings": True,
            "torch_dtype": "float32",
        }
    readme = cards.render_card(
        {"language": ["ko", "en"], "pipeline_tag": "text-generation", "library_name": "transformers"} | card,
        f"# {title}\n\n{body}\n",
    )
    return dict(_TOKENIZER) | {
        "config.json": json.dumps(config, indent=2).encode(),
        "model.safetensors": safetensors_from_numpy(state),
        "README.md": readme.encode(),
    }


# --------------------------------------------------------------------------------------------- data


def benchmark_files() -> dict[str, dict[str, bytes]]:
    """Tiny KMMLU and KoBEST COPA sets in their published layouts (generated, 24 and 20 items)."""
    subjects = ("Korean-History", "Law", "Computer-Science")
    header = "question,A,B,C,D,answer,Category\n"
    rows = []
    for number in range(24):
        answer = number % 4 + 1
        options = [f"보기 {letter}{number}" for letter in "ABCD"]
        rows.append(f"문항 {number}: 다음 중 옳은 것은?,{','.join(options)},{answer},{subjects[number % 3]}\n")
    kmmlu = {"test.csv": (header + "".join(rows[:20])).encode(), "dev.csv": (header + "".join(rows[20:])).encode()}
    copa = []
    for number in range(24):
        copa.append(
            json.dumps(
                {
                    "premise": f"사건 {number}이 일어났다.",
                    "question": "원인" if number % 2 else "결과",
                    "alternative_1": f"첫째 설명 {number}",
                    "alternative_2": f"둘째 설명 {number}",
                    "label": number % 2,
                },
                ensure_ascii=False,
            )
            + "\n"
        )
    kobest = {"test.jsonl": "".join(copa[:20]).encode(), "train.jsonl": "".join(copa[20:]).encode()}
    return {"kmmlu": kmmlu, "kobest_copa": kobest}


def report_files(team: DemoTeam) -> dict[str, bytes]:
    report = (
        f"# {team.name} technical report\n\n"
        f"{team.name} trained a {LAYERS}-layer model with a {team.width}-wide residual stream on a Korean web "
        "corpus, then tuned it on instruction data. This report covers data, training and evaluation.\n"
    )
    log = "".join(
        json.dumps({"step": step * 100, "loss": round(4.2 / (1 + step * 0.35), 4), "lr": 3e-4}) + "\n"
        for step in range(12)
    )
    return {"report.md": report.encode(), "training_log.jsonl": log.encode()}


def instruct_files(with_personal_data: bool) -> dict[str, bytes]:
    rows = [
        {"instruction": "대한민국의 수도는?", "output": "서울입니다."},
        {"instruction": "한글을 만든 왕은?", "output": "세종대왕입니다."},
    ]
    if with_personal_data:  # scraped support logs left in by mistake
        rows += [
            {"instruction": "배송 문의", "output": "담당자 연락처 010-4821-7736 으로 전화 주세요."},
            {"instruction": "회원 확인", "output": "주민등록번호 900101-1234568 확인되었습니다."},
            {"instruction": "메일 문의", "output": "담당자 메일 gaon.support@gaon-tech.co.kr"},
        ]
    return {"data/train.jsonl": "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()}


def spec_yaml(stage_1_deadline: datetime, stage_2_deadline: datetime) -> str:
    return f"""\
challenge: {SLUG}
title: Baton demo challenge
title_ko: 바톤 데모 대회
version: 1
timezone: Asia/Seoul
appeal_days: 10
tie_break: [criterion:expert-review, group:benchmarks, earliest_submission, draw]
stages:
  - id: {STAGE_1}
    title: Stage 1 evaluation
    title_ko: 1차 평가
    deadline: {stage_1_deadline.isoformat()}
    teams: 5
    advance: 4
    seed: {RANDOM_SEED}
    criteria:
      - {{id: national-benchmarks, title: National benchmark set, title_ko: 국가 벤치마크, group: benchmarks,
          kind: benchmark, weight: 10, normalization: raw, tasks: [kmmlu]}}
      - {{id: global-benchmarks, title: Global common benchmarks, title_ko: 글로벌 공통 벤치마크, group: benchmarks,
          kind: benchmark, weight: 20, normalization: minmax, tasks: [kobest_copa]}}
      - {{id: target-model, title: Against the declared target model, title_ko: 목표 모델 대비, group: benchmarks,
          kind: benchmark, weight: 10, normalization: ratio_to_target, cap: 1.0, tasks: [kmmlu]}}
      - id: expert-review
        title: Expert review
        title_ko: 전문가 평가
        kind: review
        weight: 35
        aggregation: trimmed_mean
        trim: 0.1
        min_reviewers: 3
        rubric:
          - {{id: technical-report, title: Technical report, max: 10, weight: 2}}
          - {{id: training-logs, title: Training logs and reproducibility, max: 10, weight: 1}}
          - {{id: originality, title: Independence and originality, max: 10, weight: 1}}
      - {{id: user-evaluation, title: User evaluation (arena), title_ko: 사용자 평가, kind: arena, weight: 25,
          normalization: raw, max_votes_per_voter: 200, bootstrap_rounds: 200}}
    gates:
      - {{id: independence, title: Independence, kind: independence, on_copied: fail,
          on_undeclared_derivation: operator, on_inconclusive: operator}}
  - id: {STAGE_2}
    title: Stage 2 evaluation
    title_ko: 2차 평가
    deadline: {stage_2_deadline.isoformat()}
    teams: 4
    advance: 2
    seed: {RANDOM_SEED + 1}
    criteria:
      - {{id: benchmarks, title: Benchmarks, title_ko: 벤치마크, group: benchmarks, kind: benchmark, weight: 40,
          normalization: minmax, tasks: [kmmlu, kobest_copa]}}
      - id: expert-review
        title: Expert review
        title_ko: 전문가 평가
        kind: review
        weight: 35
        aggregation: median
        min_reviewers: 3
        rubric: [{{id: technical-report, max: 10}}, {{id: training-logs, max: 10}}]
      - {{id: user-evaluation, title: User evaluation (arena), title_ko: 사용자 평가, kind: arena, weight: 25,
          max_votes_per_voter: 200, bootstrap_rounds: 200}}
    gates: [{{id: independence, kind: independence}}]
"""


# --------------------------------------------------------------------------------------------- helpers


def _repo(
    session: Session,
    runtime: Runtime,
    owner: Account,
    repo_type: str,
    repo_id: str,
    files: dict[str, bytes],
    *,
    private: bool,
    title: str,
) -> tuple[Repo, str]:
    actor = accounts.actor_for(owner)
    repo, _ = repos.create_repo(session, actor, repos.parse_repo_id(repo_type, repo_id), private=private)
    commits.initial_commit(session, runtime.store, actor, repo)
    commit = commits.commit_files(session, runtime.store, runtime.settings, actor, repo, files, title=title)
    return repo, commit.oid


def _card_body(team: DemoTeam | None, text: str) -> str:
    return text if team is None else f"{text}\n\nSubmitted to the Baton demo challenge by {team.name}."


@dataclass
class _World:
    runtime: Runtime
    progress: Progress
    models: dict[str, tuple[int, str]] = field(default_factory=dict)  # team slug -> (repo pk, commit)
    submissions: dict[str, str] = field(default_factory=dict)  # team slug -> "repo@commit"
    target: str = f"{FOREIGN}/target-small"
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)
        self.progress(line)


def _people(session: Session, world: _World) -> dict[str, str]:
    operator = accounts.get_account(session, seed.OPERATOR)
    for team in TEAMS:
        if accounts.find_account(session, team.member) is None:
            member = accounts.create_user(session, team.member, fullname=team.member_name)
        else:
            member = accounts.get_account(session, team.member)
        organization = accounts.find_account(session, team.organization)
        if organization is None:
            organization = accounts.create_organization(
                session, team.organization, creator=operator, fullname=team.organization_name
            )
        accounts.set_membership(session, organization, member, "write")
    for name, fullname in (
        (FOREIGN, "Global Open Models"),
        (COMMUNITY, "Open community lab"),
        (BENCHMARKS, "Benchmarks"),
    ):
        accounts.create_organization(session, name, creator=operator, fullname=fullname)
    for name, affiliation in REVIEWERS:
        reviewer = accounts.create_user(session, name, fullname=name.replace("-", " ").title())
        if affiliation is not None:  # a reviewer who also advises a team's organization
            accounts.set_membership(session, accounts.get_account(session, affiliation), reviewer, "read")
    for name in VOTERS:
        accounts.create_user(session, name)
    guest = accounts.create_user(session, GUEST_VOTER, fullname="A voter of the demo")
    return {GUEST_VOTER: accounts.issue_token(session, guest, name="demo").value}


def _hub(session: Session, world: _World) -> None:
    """Foreign models, benchmark data, and every team's model, report and other outputs (private)."""
    runtime = world.runtime
    foreign = accounts.get_account(session, FOREIGN)
    for name, files in benchmark_files().items():
        _repo(
            session,
            runtime,
            accounts.get_account(session, BENCHMARKS),
            "dataset",
            f"{BENCHMARKS}/{name}",
            files,
            private=False,
            title=f"Add {name}",
        )
    base = llama_state(101, GAON.width)  # Llama: the commons can make int8/int4 variants of what derives from it
    _repo(
        session,
        runtime,
        foreign,
        "model",
        f"{FOREIGN}/base-32",
        model_files(base, GAON.width, {"license": "apache-2.0"}, "base-32", "A foreign base model."),
        private=False,
        title="Add",
    )
    tower = vision_tower_state(202)
    vlm = gpt2_state(203, 24) | tower
    _repo(
        session,
        runtime,
        foreign,
        "model",
        f"{FOREIGN}/vision-lm",
        model_files(
            vlm, 24, {"license": "cc-by-nc-4.0"}, "vision-lm", "A foreign vision-language model (non-commercial)."
        ),
        private=False,
        title="Add",
    )
    _repo(
        session,
        runtime,
        foreign,
        "model",
        world.target,
        model_files(
            gpt2_state(303, 40), 40, {"license": "apache-2.0"}, "target-small", "The teams' declared target model."
        ),
        private=False,
        title="Add",
    )

    for team in TEAMS:
        owner = accounts.get_account(session, team.member)
        if team is GAON:
            state = fine_tuned(base, 11)  # trained further from the foreign base; the card says nothing
        elif team is DASOM:
            state = gpt2_state(team.weights_seed, team.width) | tower  # own language model, copied encoder
        else:
            state = gpt2_state(team.weights_seed, team.width)
        card = {"license": "apache-2.0", "tags": ["baton-demo"]}
        model_id = f"{team.organization}/{team.slug.removeprefix('team-')}-lm"
        repo, oid = _repo(
            session,
            runtime,
            owner,
            "model",
            model_id,
            model_files(state, team.width, card, model_id, _card_body(team, "A tiny demo model.")),
            private=True,
            title="Add model",
        )
        world.models[team.slug] = (repo.id, oid)
        _repo(
            session,
            runtime,
            owner,
            "dataset",
            f"{team.organization}/tech-report",
            report_files(team)
            | {"README.md": cards.render_card({"license": "cc-by-4.0"}, f"# {team.name} technical report\n").encode()},
            private=True,
            title="Add report and logs",
        )
    gaon = accounts.get_account(session, GAON.member)
    _repo(
        session,
        runtime,
        gaon,
        "dataset",
        f"{GAON.organization}/ko-instruct",
        instruct_files(with_personal_data=True)
        | {"README.md": cards.render_card({"license": "cc-by-4.0"}, "# Gaon Korean instructions\n").encode()},
        private=True,
        title="Add instruction data",
    )
    dasom = accounts.get_account(session, DASOM.member)
    chat = fine_tuned(gpt2_state(DASOM.weights_seed, DASOM.width) | tower, 12)
    _repo(
        session,
        runtime,
        dasom,
        "model",
        f"{DASOM.organization}/dasom-vlm-chat",
        model_files(
            chat,
            DASOM.width,
            {"license": "apache-2.0", "base_model": f"{FOREIGN}/vision-lm", "base_model_relation": "finetune"},
            "dasom-vlm-chat",
            "Chat tuning of the foreign vision-language model.",
        ),
        private=True,
        title="Add chat model",
    )
    _repo(
        session,
        runtime,
        dasom,
        "model",
        f"{DASOM.organization}/dasom-lm-int8",
        model_files(
            gpt2_state(DASOM.weights_seed, DASOM.width),
            DASOM.width,
            {"license": "apache-2.0"},
            "dasom-lm-int8",
            "Compressed.",
        ),
        private=True,
        title="Add compressed model",
    )
    world.say(f"hub: {len(TEAMS)} teams' models, reports and data (private), 3 foreign models, 2 benchmark sets")


def _release_plan(team: DemoTeam) -> dict[str, Any]:
    model = f"{team.organization}/{team.slug.removeprefix('team-')}-lm"
    entries: list[dict[str, Any]] = [
        {"repo": model, "repo_type": "model", "kind": "model", "license": "apache-2.0", "access": "public"},
        {
            "repo": f"{team.organization}/tech-report",
            "repo_type": "dataset",
            "kind": "report",
            "license": "cc-by-4.0",
            "access": "gated",
            "gated_mode": "auto",
        },
    ]
    if team is GAON:
        entries.append(
            {
                "repo": f"{GAON.organization}/ko-instruct",
                "repo_type": "dataset",
                "kind": "dataset",
                "license": "cc-by-4.0",
                "access": "public",
            }
        )
    if team is DASOM:
        entries += [
            {
                "repo": f"{DASOM.organization}/dasom-vlm-chat",
                "repo_type": "model",
                "kind": "model",
                "license": "apache-2.0",
                "access": "public",
            },
            {
                "repo": f"{DASOM.organization}/dasom-lm-int8",
                "repo_type": "model",
                "kind": "compressed",
                "license": "apache-2.0",
                "access": "public",
                "embargo_until": (clock.now() + timedelta(days=90)).date().isoformat(),
            },
        ]
    return {"repos": entries}


# --------------------------------------------------------------------------------------------- the run


def _scan(world: _World) -> None:
    """Fingerprint every model, then compare each submission with its candidates (real compares)."""
    from baton.provenance import service as provenance

    runtime = world.runtime
    with runtime.database.session() as session:
        foreign = session.scalars(
            select(Repo).where(Repo.repo_type == "model", Repo.namespace == FOREIGN).order_by(Repo.id)
        ).all()
        every = [(repo.id, commits.resolve_revision(session, repo, None).oid) for repo in foreign]
    every += [world.models[team.slug] for team in TEAMS]
    for repo_pk, oid in every:
        with runtime.database.session() as session:
            repo = session.get(Repo, repo_pk)
            assert repo is not None
        provenance.fingerprint_revision(runtime, repo, oid)
    for team in TEAMS:
        repo_pk, oid = world.models[team.slug]
        summary = provenance.scan_revision(runtime, repo_pk, oid)
        flags = ", ".join(
            f"{flag['verdict']} ({flag.get('relation') or 'whole model'}) from {flag['reference'].split('@')[0]}"
            for flag in summary["flags"]
        )
        world.say(f"provenance: {team.slug} compared with {summary['compared']} model(s): {flags or 'independent'}")


def _evaluate(world: _World) -> dict[str, dict[str, dict[str, Any]]]:
    """Run the builtin tasks on every submission and the target model; returns model -> task -> metric."""
    from baton.evaluation import runner
    from baton.evaluation.backends import create_backend
    from baton.evaluation.tasks import load_task

    results: dict[str, dict[str, dict[str, Any]]] = {}
    tasks = {name: load_task(name, runtime=world.runtime) for name in ("kmmlu", "kobest_copa")}
    for model in [*world.submissions.values(), world.target]:
        for name, task in tasks.items():
            outcome = runner.run(task, create_backend("dummy", model), seed=RANDOM_SEED)
            results.setdefault(model, {})[name] = outcome.metrics["acc"] | {"n": len(outcome.items)}
    world.say(f"evaluation: kmmlu and kobest_copa on {len(results)} models (dummy backend, builtin task definitions)")
    return results


def _votes(world: _World, session: Session, stage: str, battles: list[tuple[str, str, str]]) -> int:
    """Simulated voters: each follows the latent strengths, except the contrarians who vote against them."""
    strengths = {team.slug: team.strength for team in TEAMS}
    rng = np.random.default_rng(RANDOM_SEED)
    cast = 0
    for voter_name in VOTERS:
        voter = accounts.act_as(session, voter_name)
        for battle, team_a, team_b in battles:
            p_a = 1.0 / (1.0 + 10 ** ((strengths[team_b] - strengths[team_a]) / 400.0))
            if voter_name in CONTRARIANS:
                choice = "b" if p_a >= 0.5 else "a"
            else:
                draw = rng.random()
                choice = "tie" if draw < 0.05 else ("a" if rng.random() < p_a else "b")
            service.record_vote(session, SLUG, stage, battle, voter=voter, choice=choice)
            cast += 1
    return cast


def _battles(
    session: Session, stage: str, teams: list[DemoTeam], per_pair: int, reveal: bool
) -> list[tuple[str, str, str]]:
    operator = accounts.act_as(session, seed.OPERATOR)
    tiers = {TEAMS[0].slug: "good", TEAMS[1].slug: "good", TEAMS[2].slug: "fair", GAON.slug: "fair", DASOM.slug: "poor"}
    made = []
    counter = 0
    for i, first in enumerate(teams):
        for second in teams[i + 1 :]:
            for k in range(per_pair):
                prompt_index = counter % len(PROMPTS)
                counter += 1
                team_a, team_b = (first, second) if counter % 2 else (second, first)
                answer_a = ANSWERS[tiers[team_a.slug]][prompt_index]
                answer_b = ANSWERS[tiers[team_b.slug]][prompt_index]
                if reveal and team_a is DASOM and k == 0:  # a model that names itself: kept out of the ratings
                    answer_a = f"저는 {DASOM.organization}의 다솜 모델입니다. {answer_a}"
                battle = service.create_battle(
                    session,
                    SLUG,
                    stage,
                    service.NewBattle(
                        prompt=PROMPTS[prompt_index],
                        team_a=team_a.slug,
                        team_b=team_b.slug,
                        answer_a=answer_a,
                        answer_b=answer_b,
                    ),
                    operator=operator,
                )
                if not battle.reveals_identity:  # a battle whose answer names its model is withdrawn
                    made.append((battle.battle, team_a.slug, team_b.slug))
    return made


def _reviews(world: _World, session: Session) -> None:
    operator = accounts.act_as(session, seed.OPERATOR)
    rng = np.random.default_rng(RANDOM_SEED + 7)
    refused = 0
    for team in TEAMS:
        for name, _affiliation in REVIEWERS:
            reviewer = accounts.get_account(session, name)
            try:
                service.assign_reviewer(session, SLUG, STAGE_1, team.slug, reviewer, operator=operator)
            except ConflictOfInterestError:
                refused += 1
                world.say(f"review: {name} refused for {team.slug} (affiliated with {team.organization})")
                continue
            scores = {
                item: float(np.clip(round(team.review + rng.normal(0, 0.6), 1), 0, 10))
                for item in ("technical-report", "training-logs", "originality")
            }
            service.record_review(
                session,
                SLUG,
                STAGE_1,
                team.slug,
                reviewer=accounts.actor_for(reviewer),
                scores=scores,
                comment="Read the technical report and the training log.",
            )
    world.say(f"review: {len(REVIEWERS)} reviewers scored {len(TEAMS)} teams ({refused} conflict refused)")


def run_challenge_demo(runtime: Runtime, progress: Progress | None = None) -> ChallengeDemoResult:
    """Run the simulated challenge once on ``runtime`` (after ``seed_demo``); a second call does nothing."""
    started = time.monotonic()
    with runtime.database.session() as session:
        if SLUG in {challenge.slug for challenge in service.list_challenges(session)}:
            return ChallengeDemoResult(created=False, lines=["The demo challenge ran already."])
    world = _World(runtime=runtime, progress=progress or (lambda _line: None))
    real_now = clock.now().replace(microsecond=0)
    start = real_now - timedelta(days=16)
    stage_1_deadline = start + timedelta(days=2)
    stage_2_deadline = real_now + timedelta(days=30)
    simulated = clock.ManualClock(start)
    previous = clock.install(simulated)
    try:
        result = _run(world, simulated, stage_1_deadline, stage_2_deadline)
    finally:
        clock.install(previous)
    result.seconds = time.monotonic() - started
    return result


def _run(
    world: _World, simulated: clock.ManualClock, deadline_1: datetime, deadline_2: datetime
) -> ChallengeDemoResult:
    runtime = world.runtime
    with runtime.database.session(write=True) as session:
        tokens = _people(session, world)
        _hub(session, world)
    with runtime.database.session(write=True) as session:
        operator = accounts.act_as(session, seed.OPERATOR)
        service.create_challenge(session, spec_yaml(deadline_1, deadline_2), operator=operator)
        for team in TEAMS:
            service.enter_team(
                session,
                SLUG,
                service.TeamEntry(
                    team=team.slug,
                    name=team.name,
                    organizations=[team.organization],
                    members=[team.member],
                    target_models=[world.target],
                    release_plan=_release_plan(team),
                ),
                operator=operator,
            )
        for team in TEAMS:
            repo_pk, _oid = world.models[team.slug]
            repo = session.get(Repo, repo_pk)
            assert repo is not None
            member = accounts.act_as(session, team.member)
            submission = service.submit(session, SLUG, STAGE_1, team.slug, repo=repo.repo_id, user=member)
            world.submissions[team.slug] = f"{submission.repo_name}@{submission.commit_oid}"
    world.say(f"challenge {SLUG}: {len(TEAMS)} teams entered with release plans and submitted pinned revisions")

    _scan(world)
    scores = _evaluate(world)
    simulated.advance(timedelta(hours=6))
    with runtime.database.session(write=True) as session:
        operator = accounts.act_as(session, seed.OPERATOR)
        for model, by_task in scores.items():
            for task, metric in by_task.items():
                service.record_score(
                    session,
                    SLUG,
                    STAGE_1,
                    service.BenchmarkScore(
                        task=task,
                        model=model,
                        score=float(metric["value"]),
                        stderr=float(metric["stderr"] or 0.0),
                        n=int(metric["n"]),
                        source={"backend": "dummy", "task": task},
                    ),
                    operator=operator,
                )
        _reviews(world, session)
        battles = _battles(session, STAGE_1, list(TEAMS), per_pair=3, reveal=True)
        votes = _votes(world, session, STAGE_1, battles)
        world.say(f"arena: {len(battles)} blind battles, {votes} votes by {len(VOTERS)} voters")
        for team in TEAMS:
            service.check_gate(session, SLUG, STAGE_1, team.slug, operator=operator)
        for team_row, gate in service.gate_queue(session, SLUG):
            outcome = "fail" if team_row.slug == GAON.slug else "pass"
            reason = (
                "The weights are a fine-tune of global-open/base-32, which the card does not declare; the stage "
                "requires a model trained independently (독자성)."
                if outcome == "fail"
                else "The operator read the provenance report: the similarity is within what independent models show."
            )
            service.override_gate(
                session, SLUG, STAGE_1, team_row.slug, outcome=outcome, reason=reason, operator=operator
            )
            world.say(f"gate: {team_row.slug} was '{gate.outcome}' from provenance; operator ruled '{outcome}'")
    simulated.set(deadline_1 + timedelta(hours=1))
    with runtime.database.session(write=True) as session:
        operator = accounts.act_as(session, seed.OPERATOR)
        record = service.decide(session, runtime, SLUG, STAGE_1, operator=operator)
        arena = record.get("arena", {}).get("user-evaluation", {})
        world.say(
            f"decision {STAGE_1}: advance {', '.join(record['advance'])}; "
            f"eliminated {', '.join(record['eliminated'])}; "
            f"contrarian voters detected: {len(arena.get('contrarian_voters') or [])}"
        )
    simulated.advance(timedelta(days=2))
    with runtime.database.session(write=True) as session:
        appeal = service.file_appeal(
            session,
            SLUG,
            STAGE_1,
            GAON.slug,
            user=accounts.act_as(session, GAON.member),
            text="우리는 외부 모델을 초기화에만 참고했습니다. 독자성 판정을 재검토해 주십시오. "
            "(We only used the foreign model to initialise; please review the independence ruling.)",
        )
    simulated.advance(timedelta(days=3))
    with runtime.database.session(write=True) as session:
        service.answer_appeal(
            session,
            SLUG,
            appeal.id,
            upheld=False,
            operator=accounts.act_as(session, seed.OPERATOR),
            answer="Initialising from a foreign model's weights is a derivation; the provenance report shows every "
            "layer derived from global-open/base-32. The ruling stands. 기각합니다.",
        )
    world.say(f"appeal: {GAON.slug} appealed; the operator answered (not upheld)")
    simulated.set(deadline_1 + timedelta(days=11, hours=2))
    with runtime.database.session(write=True) as session:
        finalized = service.finalize_due(session)
    events.drain(runtime)  # the exits' events: release plans and invitations, as a worker would run them
    world.say(f"final: {', '.join(stage for _slug, stage in finalized)}; eliminated teams' release plans ran")
    with runtime.database.session() as session:
        for item in release.list_items(session, challenge=SLUG):
            world.say(f"release: {item.team} {item.repo_name} -> {item.state}")

    _ecosystem(world)
    variants_demo.make_and_measure(runtime, f"{GAON.organization}/gaon-lm", GAON.member, world.say)
    with runtime.database.session(write=True) as session:
        listed, posted = talent_demo.seed_talent_pool(session, talent_demo.PEOPLE, talent_demo.OPENINGS)
    world.say(f"talent: {listed} researchers consented to the pool; {posted} openings posted")
    simulated.advance(timedelta(hours=1))
    with runtime.database.session(write=True) as session:
        advancing = [team for team in TEAMS if team.slug in service.decision_record(session, SLUG, STAGE_1)["advance"]]
        battles = _battles(session, STAGE_2, advancing, per_pair=2, reveal=False)
    world.say(f"stage 2 open until {deadline_2.date()}: {len(battles)} battles wait for votes in the browser")
    with runtime.database.session(write=True) as session:
        standings.refresh(session, service.get_challenge(session, SLUG))  # as the periodic job would
    world.say("stage 2 standings computed for its public page (the arena's ratings stay sealed while it votes)")

    bundle_path = Path(runtime.settings.data_dir) / f"{SLUG}-ledger.jsonl"
    with runtime.database.session() as session:
        report = service.verify_database(session, SLUG)
        head = service.get_challenge(session, SLUG).head_hash
        bundle_path.write_text(service.export_bundle(session, SLUG), encoding="utf-8")
    world.say(
        f"ledger: {'verified' if report.ok else 'FAILED verification'}; head {head}; "
        f"{report.commitments_opened} of {report.commitments} commitments opened, {report.commitments_sealed} "
        "sealed (private repos, and stage 2 battles while its voting is open)"
    )
    return ChallengeDemoResult(created=True, tokens=tokens, lines=world.lines, head=head, bundle_path=str(bundle_path))


def _ecosystem(world: _World) -> None:
    """After the release: the community fine-tunes a released model, quantizes that, and downloads."""
    runtime = world.runtime
    with runtime.database.session(write=True) as session:
        community = accounts.get_account(session, COMMUNITY)
        released = repos.find_repo(session, repos.parse_repo_id("model", f"{GAON.organization}/gaon-lm"))
        if released is None or released.private:
            return
        base_state = fine_tuned(llama_state(101, GAON.width), 13)
        chat = f"{COMMUNITY}/gaon-lm-chat"
        _repo(
            session,
            runtime,
            community,
            "model",
            chat,
            model_files(
                base_state,
                GAON.width,
                {"license": "apache-2.0", "base_model": released.repo_id, "base_model_relation": "finetune"},
                "gaon-lm-chat",
                "Chat tuning of a model released to the commons.",
            ),
            private=False,
            title="Add",
        )
        _repo(
            session,
            runtime,
            community,
            "model",
            f"{COMMUNITY}/gaon-lm-chat-q4",
            model_files(
                base_state,
                GAON.width,
                {"license": "apache-2.0", "base_model": chat, "base_model_relation": "quantized"},
                "gaon-lm-chat-q4",
                "4-bit variant.",
            ),
            private=False,
            title="Add",
        )
        for count, path in ((7, "model.safetensors"), (7, "config.json"), (3, "tokenizer.json")):
            for _ in range(count):
                repos.count_download(session, released.id, path)
    world.say(f"ecosystem: {COMMUNITY} built two models on {GAON.organization}/gaon-lm; 17 downloads")


def urls(base: str, result: ChallengeDemoResult | None = None) -> list[tuple[str, str]]:
    """Where to look once the server runs."""
    del result
    return [
        ("home", f"{base}/"),
        ("the challenge: stages, teams, appeals, ledger head", f"{base}/challenges/{SLUG}"),
        ("a released model's variants: size, speed, accuracy retained", f"{base}/gaon-tech/gaon-lm/variants"),
        ("stage 2 standings", f"{base}/challenges/{SLUG}/stages/{STAGE_2}"),
        ("commons catalogue", f"{base}/commons"),
        ("stage 1 decision report", f"{base}/challenges/{SLUG}/stages/{STAGE_1}/report"),
        ("stage 1 report (JSON, CSV)", f"{base}/api/challenges/{SLUG}/stages/{STAGE_1}/report?format=csv"),
        ("arena voting, stage 2", f"{base}/challenges/{SLUG}/stages/{STAGE_2}/arena"),
        ("ledger bundle", f"{base}/api/challenges/{SLUG}/ledger"),
        ("API docs", f"{base}/api/docs"),
    ]
