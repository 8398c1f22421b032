"""One federated training run in one process: rounds of sampled clients, local training, FedAvg, validation.

Each round of :func:`simulate`:

1. the server samples ``clients_per_round`` clients (0: every client, as PFedRec);
2. every participant downloads the global item table and dense parameters, draws its samples
   (:func:`~harness.tracks.fedrec.fedsim.sampling.sample_round`) and trains locally: the client step is the batched
   :func:`~harness.tracks.fedrec.fedsim.client.client_update` on batches of up to ``clients_per_chunk`` clients of
   similar data size, or, for FedMF and PFedRec without a view, the compiled step of
   :mod:`~harness.tracks.fedrec.fedsim.compiled` on every participant at once (``engine``); its private parameters stay
   in its own row of ``state.private``;
3. every participant uploads the change of the shared rows and dense parameters it trained; the server applies
   FedAvg weighted by the clients' numbers of training items (:mod:`harness.tracks.fedrec.fedsim.server`);
4. every client scores its validation candidates (training-side data); the state of the round with the best
   validation HR@10 (ties: the later round, as PFedRec) is kept as a snapshot for the test predictions.

Personalised item tables. A model with ``personalised_items`` (PFedRec) gives each participant the table it
fine-tuned this round: the global rows with its trained rows in place, stored as those rows over the downloaded
table (:class:`~harness.tracks.fedrec.fedsim.personal.PersonalTables`: memory grows with the sampled rows, not with
users x items). A :class:`LocalGlobalView` (PLGC) keeps
that local table L_u beside the frozen global table G and scores with ``alpha_u * L_u + (1 - alpha_u) * G``
(:attr:`FedState.alpha`); ``alpha_u`` comes from the view at the start of each of the client's rounds, from its
last local table and the fresh download on the round's samples. Training and uploads are the base method's,
plus the view's regulariser. A client that does not take part in a round keeps its last local table and weight.

Determinism: the initial parameters come from ``seed``, each round's draws from (seed, round); the same seed
gives the same run, whatever ``clients_per_chunk`` and whichever client step (up to float rounding).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from harness.tracks.fedrec.fedsim import compiled
from harness.tracks.fedrec.fedsim.client import Regulariser, client_update
from harness.tracks.fedrec.fedsim.models import FedModel
from harness.tracks.fedrec.fedsim.personal import PersonalTables
from harness.tracks.fedrec.fedsim.sampling import ClientBatch, RoundSamples, layout_round, pack_clients, sample_round
from harness.tracks.fedrec.fedsim.scoring import FedState, candidate_scores
from harness.tracks.fedrec.fedsim.server import UpdateSums, accumulate_update, apply_fedavg, round_bytes

__all__ = ["FedConfig", "FedData", "FedResult", "LocalGlobalView", "simulate", "validation_hit_rate"]


@dataclass(frozen=True)
class FedConfig:
    """Settings of a run (the track's budget fills them).

    Attributes:
        n_rounds: Communication rounds.
        clients_per_round: Participants per round; 0 means every client.
        local_epochs: Passes of a client over its samples per round.
        batch_size: Samples per local minibatch.
        n_negatives: Sampled negatives per training positive, drawn anew each round.
        lr: SGD learning rate of the private and dense shared parameters.
        item_lr: SGD learning rate of the item rows.
        server_lr: Server step on the FedAvg mean change (1 = plain FedAvg).
        clients_per_chunk: Most clients trained at once by the vectorised client step.
        samples_per_chunk: Most padded samples (clients times the largest client's samples) of one batch: clients
            are sorted by size and cut into batches under both limits, so a few heavy clients do not pad a
            batch of light ones.
        k: Cut-off of the validation hit rate that picks the best round.
    """

    n_rounds: int = 100
    clients_per_round: int = 0
    local_epochs: int = 1
    batch_size: int = 256
    n_negatives: int = 4
    lr: float = 0.1
    item_lr: float = 1.0
    server_lr: float = 1.0
    clients_per_chunk: int = 128
    samples_per_chunk: int = 32768
    k: int = 10


@dataclass(frozen=True)
class FedData:
    """The training side of a split, as the clients hold it.

    Attributes:
        n_items: Number of items.
        train_indptr: int64 tensor of shape (n_users + 1,), CSR offsets of the training items.
        train_items: int64 tensor of shape (n_train,).
        val_candidates: int64 tensor of shape (n_users, C); column 0 is the validation item.
        exclude: bool tensor of shape (n_users, n_items), the items a user never draws as a training negative:
            its training items, plus its held-out (validation and test) items when the budget asks for
            PFedRec's sampling. By default the validation item is not excluded, as the test item cannot be: a
            client treats both alike, so validation stays an unbiased stand-in for test.
    """

    n_items: int
    train_indptr: torch.Tensor
    train_items: torch.Tensor
    val_candidates: torch.Tensor
    exclude: torch.Tensor

    @property
    def n_users(self) -> int:
        """Number of clients."""
        return len(self.train_indptr) - 1

    @classmethod
    def from_arrays(
        cls,
        n_items: int,
        train_indptr: np.ndarray,
        train_items: np.ndarray,
        val_candidates: np.ndarray,
        heldout_items: np.ndarray | None = None,
    ) -> FedData:
        """Build from numpy arrays (see the attributes); the exclusion matrix is derived.

        ``heldout_items`` (n_users, h), optional: items each user must not draw as training negatives besides its
        training items (PFedRec's sampling: its validation and test items).
        """
        indptr = torch.as_tensor(np.asarray(train_indptr, dtype=np.int64))
        items = torch.as_tensor(np.asarray(train_items, dtype=np.int64))
        candidates = torch.as_tensor(np.asarray(val_candidates, dtype=np.int64))
        n_users = len(indptr) - 1
        exclude = torch.zeros(n_users, n_items, dtype=torch.bool)
        owner = torch.repeat_interleave(torch.arange(n_users), indptr[1:] - indptr[:-1])
        exclude[owner, items] = True
        if heldout_items is not None:
            heldout = torch.as_tensor(np.asarray(heldout_items, dtype=np.int64)).reshape(n_users, -1)
            exclude[torch.arange(n_users)[:, None].expand_as(heldout), heldout] = True
        return cls(n_items, indptr, items, candidates, exclude)

    @classmethod
    def from_train(cls, train: Any) -> FedData:
        """Build from the fedrec track's training data (:class:`harness.tracks.fedrec.FedRecTrain`)."""
        return cls.from_arrays(train.n_items, train.train_indptr, train.train_items, train.val_candidates,
                               train.heldout_items)


class LocalGlobalView(Protocol):
    """A client-side view that keeps a personal item table beside the frozen global one (PLGC).

    ``regulariser`` is an optional extra loss of the minibatch item embeddings; ``weights`` returns each
    client's weight ``alpha`` of its local table, float32 tensor of shape (B,), from its parameters, its local
    rows (last round's) and the global rows (this round's download), both (B, U, dim), and this round's samples.
    """

    regulariser: Regulariser | None

    def weights(
        self,
        model: FedModel,
        private: dict[str, torch.Tensor],
        personal_rows: torch.Tensor,
        global_rows: torch.Tensor,
        dense: dict[str, torch.Tensor],
        batch: ClientBatch,
    ) -> torch.Tensor:
        """Weight of the personal table per client."""
        ...


@dataclass
class FedResult:
    """What a run returns.

    Attributes:
        best_state: Snapshot of the state after the round with the best validation hit rate.
        best_round: That round (0-based).
        final_state: The state after the last round.
        val_hr: float64 array of shape (n_rounds,), validation HR@k after each round.
        train_loss: float64 array of shape (n_rounds,), mean local loss of the participants.
        bytes_up: float64 array of shape (n_rounds,), bytes uploaded by all participants.
        bytes_down: float64 array of shape (n_rounds,), bytes downloaded by all participants.
        alpha: float64 array of shape (n_rounds,), mean local weight of a view (NaN without one).
        seconds: Wall time of the run.
    """

    best_state: FedState
    best_round: int
    final_state: FedState
    val_hr: np.ndarray
    train_loss: np.ndarray
    bytes_up: np.ndarray
    bytes_down: np.ndarray
    alpha: np.ndarray
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def validation_hit_rate(model: FedModel, state: FedState, data: FedData, *, k: int) -> float:
    """HR@k of every client on its validation candidates (column 0 relevant; ties count against it).

    The validation item is a hit when fewer than ``k`` other candidates score at least as high: the rank of
    :func:`harness.metrics.ranking.hit_rate_at_k` with one relevant item, in one vectorised comparison.
    """
    scores = candidate_scores(model, state, data.val_candidates)
    rank = (scores[:, 1:] >= scores[:, :1]).sum(1)
    return float((rank < k).double().mean())


def _round_generator(seed: int, round_index: int) -> torch.Generator:
    state = np.random.SeedSequence([seed, round_index, 0x5EED]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & ((1 << 63) - 1))


def _participants(n_users: int, k: int, generator: torch.Generator) -> torch.Tensor:
    if k <= 0 or k >= n_users:
        return torch.arange(n_users)
    return torch.sort(torch.randperm(n_users, generator=generator)[:k]).values


def _chunks(sizes: torch.Tensor, max_clients: int, max_samples: int) -> list[torch.Tensor]:
    """Cut the clients, sorted by size, into batches of at most ``max_clients`` and ``max_samples`` padded samples."""
    order = torch.argsort(sizes, stable=True)
    sorted_sizes = sizes[order].tolist()
    chunks, start = [], 0
    for end in range(1, len(order) + 1):
        too_many = end - start > max_clients or (end - start) * sorted_sizes[end - 1] > max_samples
        if too_many and end - 1 > start:
            chunks.append(order[start : end - 1])
            start = end - 1
    if start < len(order):
        chunks.append(order[start:])
    return chunks


@dataclass
class _OwnRowsOfRound:
    """The trained rows of the round's participants, collected chunk by chunk for :meth:`PersonalTables.replace`."""

    users: list[torch.Tensor] = field(default_factory=list)
    counts: list[torch.Tensor] = field(default_factory=list)
    items: list[torch.Tensor] = field(default_factory=list)
    rows: list[torch.Tensor] = field(default_factory=list)

    def add(self, batch: ClientBatch, rows: torch.Tensor) -> None:
        """Keep the real rows of a batch's per-client rows (B, U, dim) (copies: the caller reuses ``rows``)."""
        mask = batch.item_mask
        self.users.append(batch.users)
        self.counts.append(mask.sum(1))
        self.items.append(batch.item_index[mask])
        self.rows.append(rows[mask])

    def store(self, personal: PersonalTables, table: torch.Tensor, version: int) -> None:
        """Give the participants their new tables: the download ``table`` with these rows in place."""
        if not self.users:
            return
        row_indptr = torch.zeros(sum(len(c) for c in self.counts) + 1, dtype=torch.int64)
        row_indptr[1:] = torch.cumsum(torch.cat(self.counts), 0)
        personal.replace(torch.cat(self.users), table, row_indptr, torch.cat(self.items), torch.cat(self.rows),
                         version=version)


def _train_chunk(
    model: FedModel,
    state: FedState,
    batch: ClientBatch,
    config: FedConfig,
    sums: UpdateSums,
    *,
    view: LocalGlobalView | None,
    client_step: Callable[..., Any],
    own_rows: _OwnRowsOfRound,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Download, train and upload for the clients of one batch; update their private state, collect their rows.

    Their personal tables change only at the end of the round (:meth:`_OwnRowsOfRound.store`): a client is in one
    batch of a round, so no later batch reads what this one trained.
    """
    users, n_clients = batch.users, len(batch.users)
    private = {k: v[users] for k, v in state.private.items()}
    frozen = state.items.index_select(0, batch.item_index.reshape(-1)).view(*batch.item_index.shape, -1)
    dense = {k: v.expand(n_clients, *v.shape).clone() for k, v in state.dense.items()}
    alpha = None
    if view is not None:  # last round's local table against the fresh download, before training
        personal = state.personal.gather(users, batch.item_index)
        alpha = view.weights(model, private, personal, frozen, dense, batch).detach()
        state.alpha[users] = alpha
    local = frozen
    new_private, new_local, new_dense, loss = client_step(
        model, private, local, dense, batch.samples, batch.labels, batch.sample_mask,
        batch_size=config.batch_size, lr=config.lr, item_lr=config.item_lr,
        regulariser=view.regulariser if view is not None else None,
    )
    for name, value in new_private.items():
        state.private[name][users] = value
    if state.personal is not None:  # the client's local table: the download with its trained rows in place
        own_rows.add(batch, new_local)
    dense_delta = {k: new_dense[k] - dense[k] for k in dense}
    item_delta = new_local.sub_(local)  # the trained rows are not used again: their change in place
    accumulate_update(sums, batch.item_index, batch.item_mask, item_delta, dense_delta, batch.n_positives)
    return loss, alpha


def _train_round_compiled(
    model: FedModel, state: FedState, samples: RoundSamples, config: FedConfig, sums: UpdateSums, version: int
) -> tuple[torch.Tensor, int]:
    """Download, train and upload for every participant at once with the compiled step; (losses, uploaded rows)."""
    upload, loss, n_rows, own = compiled.round_update(
        model, state.private, state.items, samples,
        batch_size=config.batch_size, lr=config.lr, item_lr=config.item_lr, keep_personal=state.personal is not None,
    )
    if own is not None:  # each participant's local table: the download with its trained rows in place
        state.personal.replace(samples.users, state.items, *own, version=version)
    sums.items += upload
    sums.weight += float(samples.n_positives.sum())
    return loss, n_rows


#: Client steps :func:`simulate` can take: ``"batched"`` (padded tensor batches, any model), ``"compiled"``
#: (:mod:`harness.tracks.fedrec.fedsim.compiled`, FedMF and PFedRec), ``"auto"`` (compiled where it applies, else
#: batched).
ENGINES = ("auto", "batched", "compiled")


def _pick_engine(engine: str, model: FedModel, *, plain: bool) -> str:
    """The engine a run takes; ``plain``: no view, the default client step and chunk size."""
    if engine not in ENGINES:
        msg = f"engine {engine!r} is unknown; choose one of {', '.join(ENGINES)}."
        raise ValueError(msg)
    applies = plain and compiled.supports(model)
    if engine == "compiled":
        if not applies:
            msg = (f"the compiled client step runs FedMF and PFedRec without a view or a custom client step; "
                   f"this run has {type(model).__name__}: use engine='batched' or 'auto'.")
            raise ValueError(msg)
        if not compiled.is_available():
            msg = "engine='compiled' needs numba: pip install numba (or use engine='auto')."
            raise RuntimeError(msg)
    if engine == "auto":
        return "compiled" if applies and compiled.is_available() else "batched"
    return engine


def simulate(
    model: FedModel,
    data: FedData,
    config: FedConfig,
    *,
    seed: int,
    view: LocalGlobalView | None = None,
    client_step: Callable[..., Any] = client_update,
    clients_per_chunk: int | None = None,
    engine: str = "auto",
    log: logging.Logger | None = None,
) -> FedResult:
    """Run ``config.n_rounds`` rounds of federated training and keep the best-validation state.

    Args:
        model: The score model.
        data: The clients' training data and validation candidates.
        config: Rounds, participants, local training and learning rates.
        seed: Seed of the initial parameters and of every round's draws.
        view: Optional local-global view (PLGC) that keeps personal item tables.
        client_step: The client step; :func:`~harness.tracks.fedrec.fedsim.client.client_update_loop` with
            ``clients_per_chunk=1`` is the plain per-client reference.
        clients_per_chunk: Clients per call of the client step (default ``config.clients_per_chunk``).
        engine: One of :data:`ENGINES`. Both engines give the same run up to float rounding; the compiled one is
            several times faster where it applies. ``result.extra["engine"]`` says which ran.
        log: Logger of the per-round progress (every 10 rounds and the last).

    Returns:
        The :class:`FedResult`.
    """
    started = time.perf_counter()
    plain = view is None and client_step is client_update and clients_per_chunk is None
    engine = _pick_engine(engine, model, plain=plain)
    generator = torch.Generator().manual_seed(int(seed))
    items, dense = model.init_shared(data.n_items, generator)
    state = FedState(model.init_private(data.n_users, generator), items, dense)
    if view is not None or model.personalised_items:
        state.personal = PersonalTables.start(data.n_users, items)
    if view is not None:
        state.alpha = torch.full((data.n_users,), 0.5)
    width = clients_per_chunk or config.clients_per_chunk
    n_dense = sum(v.numel() for v in dense.values())
    curves = {name: np.zeros(config.n_rounds) for name in ("val_hr", "loss", "up", "down", "alpha")}
    best_hr, best_round, best_state = -1.0, -1, state
    for round_index in range(config.n_rounds):
        generator = _round_generator(seed, round_index)
        users = _participants(data.n_users, config.clients_per_round, generator)
        samples = sample_round(
            data.train_indptr, data.train_items, data.exclude, users,
            n_negatives=config.n_negatives, n_epochs=config.local_epochs, generator=generator,
        )
        sizes = samples.indptr[1:] - samples.indptr[:-1]
        sums = UpdateSums.zeros_like(state.items, state.dense)
        losses, alphas, n_rows = [], [], 0
        max_samples = config.samples_per_chunk if width > 1 else 0
        version = round_index + 1  # the table downloaded this round (0: the initial one)
        if engine == "compiled":
            loss, n_rows = _train_round_compiled(model, state, samples, config, sums, version)
            losses.append(loss)
        else:
            layout = layout_round(samples, data.n_items)
            own_rows = _OwnRowsOfRound()
            for chunk in _chunks(sizes, width, max_samples):
                batch = pack_clients(samples, chunk, data.n_items, layout)
                loss, alpha = _train_chunk(model, state, batch, config, sums, view=view, client_step=client_step,
                                           own_rows=own_rows)
                losses.append(loss)
                if alpha is not None:
                    alphas.append(alpha)
                n_rows += int(batch.item_mask.sum())
            if state.personal is not None:
                own_rows.store(state.personal, state.items, version)
        state.items, state.dense = apply_fedavg(state.items, state.dense, sums, server_lr=config.server_lr)
        up, down = round_bytes(len(users), n_rows, data.n_items, state.items.shape[1], n_dense)
        hr = validation_hit_rate(model, state, data, k=config.k)
        curves["val_hr"][round_index], curves["up"][round_index], curves["down"][round_index] = hr, up, down
        curves["loss"][round_index] = float(torch.cat(losses).mean())
        curves["alpha"][round_index] = float(torch.cat(alphas).mean()) if alphas else float("nan")
        if hr >= best_hr:
            best_state = None  # the old snapshot goes before the new one is taken
            best_hr, best_round, best_state = hr, round_index, state.clone()
        if log is not None and (round_index % 10 == 9 or round_index == config.n_rounds - 1):
            log.info("round %d: loss %.4f, validation HR@%d %.4f (best %.4f at round %d)", round_index + 1,
                     curves["loss"][round_index], config.k, hr, best_hr, best_round + 1)
    return FedResult(
        best_state, best_round, state, curves["val_hr"], curves["loss"], curves["up"], curves["down"],
        curves["alpha"], time.perf_counter() - started, {"engine": engine},
    )
