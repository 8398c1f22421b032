"""CPRec and the TALLRec-style baseline on the toy multi-domain set: schedules, prompts, cache, learning."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

pytest.importorskip("transformers")

from baselines.seqrec_lm import TallRec  # noqa: E402
from harness.api import Context  # noqa: E402
from harness.errors import BudgetError  # noqa: E402
from harness.tracks.seqrec.budget import SeqRecBudget  # noqa: E402
from harness.tracks.seqrec.contract import SeqRecInputs, toy_train  # noqa: E402
from methods.cprec import CPRec  # noqa: E402
from methods.cprec.prompts import UnifiedTemplate, mixed_events  # noqa: E402
from methods.cprec.schedule import learning_rates  # noqa: E402
from methods.cprec.vocab import WordVocabulary, domain_token, item_token  # noqa: E402

SEED = 0
#: A budget small enough for a fit of about a second.
BUDGET = SeqRecBudget(lm_layers=1, lm_dim=32, lm_heads=2, lm_context=96, lm_batch_size=8, lm_learning_rate=3e-3,
                      cpt_tokens=24_000, sft_steps=60, sft_learning_rate=3e-3, max_len=20)


def _fit(method, train, *, seed: int = SEED, log: logging.Logger | None = None):
    ctx = Context(seed=seed, log=log or logging.getLogger("parbench.job"))
    return method.fit(train, BUDGET, ctx)


def _reference_wsa(step: int, n: int, peak: float, warm: float, anneal: float, floor: float) -> float:
    """WSA written out by cases, one step at a time."""
    n_warm, n_anneal = round(warm * n), round(anneal * n)
    if step < n_warm:
        return peak * (step + 1) / n_warm
    if step < n - n_anneal:
        return peak
    done = step - (n - n_anneal) + 1
    return peak - (peak - floor * peak) * done / n_anneal


@pytest.mark.parametrize("n_steps", [20, 100, 245])
def test_wsa_schedule_at_phase_boundaries(n_steps: int) -> None:
    lrs = learning_rates(n_steps, 2e-3, schedule="wsa", warmup_frac=0.05, anneal_frac=0.1, min_lr_frac=0.1)
    n_warm, n_anneal = round(0.05 * n_steps), round(0.1 * n_steps)
    boundaries = {0, n_warm - 1, n_warm, n_steps - n_anneal - 1, n_steps - n_anneal, n_steps - 1}
    for step in sorted(boundaries):
        want = _reference_wsa(step, n_steps, 2e-3, 0.05, 0.1, 0.1)
        assert lrs[step] == pytest.approx(want, rel=1e-12), (step, lrs[step], want)
    assert lrs[n_warm - 1] == lrs[n_steps - n_anneal - 1] == 2e-3  # the end of warmup and of the stable phase
    assert lrs[-1] == pytest.approx(2e-4)
    cosine = learning_rates(n_steps, 2e-3, schedule="cosine", warmup_frac=0.05, min_lr_frac=0.1)
    assert np.array_equal(cosine[:n_warm], lrs[:n_warm]) and cosine[-1] == pytest.approx(2e-4)
    assert np.all(np.diff(cosine[n_warm - 1:]) <= 1e-15)


def test_tokenizer_round_trip() -> None:
    train, _ = toy_train()
    titles = {name: dom.titles for name, dom in train.domains.items()}
    vocab = WordVocabulary.build(titles, UnifiedTemplate.words, max_words=100, words_per_title=4)
    again = WordVocabulary.build(dict(reversed(titles.items())), UnifiedTemplate.words, max_words=100,
                                 words_per_title=4)
    assert vocab.tokens == again.tokens  # deterministic whatever the order of the domains
    pieces = ["<bos>", "user", "history", "in", domain_token("D1"), ":", item_token("D1", 7), "w0", "item", "7", ";"]
    assert vocab.decode(vocab.encode(pieces)) == pieces
    assert vocab.decode(vocab.encode(["zebra"])) == ["<unk>"]
    assert vocab.decode(vocab.item_ids("D0")) == [item_token("D0", i) for i in range(30)]


def test_mixed_sequences_are_time_ordered_and_cover_every_domain() -> None:
    train, _ = toy_train(12, (9, 7, 5))
    mixed = mixed_events(train.domains)
    for user, events in mixed.items():
        expected = []
        for name, dom in sorted(train.domains.items()):
            row = int(np.searchsorted(dom.users, user))
            lo, hi = dom.indptr[row], dom.indptr[row + 1]
            expected += [(int(t), name, int(i)) for t, i in zip(dom.times[lo:hi], dom.items[lo:hi], strict=True)]
        expected.sort(key=lambda e: e[0])  # stable: ties keep the domains' order
        assert events == [(d, i) for _, d, i in expected]
        assert {d for d, _ in events} == set(train.domains)
    vocab = WordVocabulary.build({n: d.titles for n, d in train.domains.items()}, UnifiedTemplate.words,
                                 max_words=50, words_per_title=2)
    template = UnifiedTemplate({n: d.titles for n, d in train.domains.items()}, vocab.encode, words_per_title=2,
                               context=512, max_len=50)
    pieces = vocab.decode(template.mixed_document(mixed[0]))
    assert [p for p in pieces if p.startswith("<dom:")] == [domain_token(d) for d, _ in mixed[0]]


def test_cosine_sees_the_same_tokens_as_wsa() -> None:
    train, _ = toy_train()
    curves = {}
    for schedule in ("wsa", "cosine"):
        method = _fit(CPRec(CPRec.make_config({"schedule": schedule, "cache": False})), train)
        stage = method.extras_["lm_stage"]
        curves[schedule] = (method.extras_["lm_tokens"][stage == 0], method.extras_["lm_lr"][stage == 0])
    n_steps = math.ceil(BUDGET.cpt_tokens / (BUDGET.lm_batch_size * BUDGET.lm_context))
    for tokens, _ in curves.values():
        assert len(tokens) == n_steps and tokens[-1] == BUDGET.cpt_tokens
    assert np.array_equal(curves["wsa"][0], curves["cosine"][0])
    assert not np.allclose(curves["wsa"][1], curves["cosine"][1])


def test_scores_finite_and_deterministic() -> None:
    train, inputs = toy_train()
    scores = [_fit(CPRec(CPRec.make_config({"cache": False})), train).score(inputs) for _ in range(2)]
    assert scores[0].shape == (len(inputs), inputs.n_items) and np.isfinite(scores[0]).all()
    np.testing.assert_array_equal(scores[0], scores[1])
    baseline = _fit(TallRec(), train)
    tall = baseline.score(inputs)
    assert tall.shape == scores[0].shape and np.isfinite(tall).all()
    assert not (baseline.extras_["lm_stage"] == 0).any() and TallRec.kind == "baseline"
    extras = baseline.extras_
    assert {k: v.dtype for k, v in extras.items()} == dict.fromkeys(extras, np.float64)
    assert np.isfinite(extras["lm_val_loss"]).sum() >= 1 and extras["lm_tokens_per_s"].shape == (1,)


def test_cpt_cache_is_hit_on_the_second_fit(caplog: pytest.LogCaptureFixture) -> None:
    train, inputs = toy_train(seed=3)
    log = logging.getLogger("parbench.test_cprec")
    with caplog.at_level(logging.INFO, logger=log.name):
        first = _fit(CPRec(CPRec.make_config({"mixed": False})), train, log=log)
        second = _fit(CPRec(CPRec.make_config({"mixed": False})), train, log=log)
    messages = [r.getMessage() for r in caplog.records]
    assert any("computed in" in m for m in messages) and any("loaded from the cache" in m for m in messages)
    np.testing.assert_array_equal(first.score(inputs), second.score(inputs))
    np.testing.assert_array_equal(first.extras_["lm_lr"], second.extras_["lm_lr"])


def _hit_rate_at_10(scores: np.ndarray, histories: list[np.ndarray], targets: np.ndarray) -> tuple[float, float]:
    """HR@10 with each history masked, and the hit rate of a uniformly random ranking (its expectation)."""
    hits, chance = 0, 0.0
    for row, (history, target) in enumerate(zip(histories, targets, strict=True)):
        ranked = [int(i) for i in np.argsort(-scores[row], kind="stable") if i not in set(history.tolist())]
        hits += int(target in ranked[:10])
        chance += min(10, len(ranked)) / len(ranked) if target in ranked else 0.0
    return hits / len(targets), chance / len(targets)


def test_lm_learns_the_next_item_pattern() -> None:
    train, _ = toy_train(60, (30, 20))
    dom = train.domain
    method = _fit(CPRec(CPRec.make_config({"cache": False})), train)
    inputs = SeqRecInputs(dom.name, dom.users, dom.indptr, dom.items, dom.times, dom.n_items)
    histories = [dom.sequence(r) for r in range(dom.n_users)]
    hit_rate, chance = _hit_rate_at_10(method.score(inputs), histories, train.val_items)
    assert hit_rate > chance + 0.15, (hit_rate, chance)


def test_missing_weights_path_is_a_clear_error(tmp_path) -> None:
    train, _ = toy_train(8, (6, 5))
    missing = tmp_path / "no-such-checkpoint"
    budget = SeqRecBudget(**{**BUDGET.__dict__, "weights": str(missing)})
    with pytest.raises(BudgetError, match=r"weights=.*no-such-checkpoint.*config\.json"):
        CPRec().fit(train, budget, Context(seed=SEED))


def test_local_checkpoint_is_loaded_and_extended_with_item_tokens(tmp_path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["<pad>", "<unk>", "<s>", "</s>", "user", "history", "in", ":", ";", "w0", "w1", "w2", "item"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>",
                                        bos_token="<s>", eos_token="</s>")
    config = LlamaConfig(vocab_size=len(words), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    train, inputs = toy_train(10, (8, 6))
    budget = SeqRecBudget(**{**BUDGET.__dict__, "weights": str(tmp_path), "cpt_tokens": 2_000, "sft_steps": 5})
    method = CPRec(CPRec.make_config({"cache": False})).fit(train, budget, Context(seed=SEED))
    scores = method.score(inputs)
    assert scores.shape == (10, 8) and np.isfinite(scores).all()
    assert len(method.tokenizer_) == len(words) + 2 + 8 + 6  # domain tokens and item tokens added
    ids = method.tokenizer_.encode(["user", item_token("D0", 3), "w1", ";"])
    assert method.tokenizer_.tokenizer.convert_ids_to_tokens(ids) == ["user", item_token("D0", 3), "w1", ";"]
