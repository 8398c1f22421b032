"""Speed of the federated simulator: its compiled and batched client steps against plain per-client loops, side by side.

FedMF on the ML-100K-sized synthetic subset (943 clients, 1682 items, about 94k training interactions), the
``default`` budget's local training (every client each round, 1 local epoch, 4 negatives, minibatches of 256,
dim 32), one torch thread by default (as the fedrec methods run; ``--threads 2`` uses both cores of a 2-core
machine, for every engine alike). Two measurements, in one process:

1. ``--compare-rounds`` rounds with each of five engines, interleaved ``--repeats`` times:

   - ``compiled``: :func:`harness.tracks.fedrec.fedsim.simulate` as the fedrec methods run it (``engine="auto"``,
     which takes the compiled client step of :mod:`harness.tracks.fedrec.fedsim.compiled` for FedMF);
   - ``vectorised (batched tensors)``: the same with ``engine="batched"``, the padded-batch tensor step that
     serves every model;
   - ``per-client loop (compact rows)``: the same simulator with :func:`harness.tracks.fedrec.fedsim.client_update_loop`
     (``torch.optim.SGD``, one client at a time, on the rows the client touches);
   - ``plain per-client loop``: federated code written client by client on raw tensors (:func:`plain_round`):
     each client copies the whole model (its user embedding and the full item table), trains it with
     ``torch.optim.SGD`` on its minibatches, and uploads the change of the full table; the server averages the
     full tables;
   - ``per-client loop, nn.Module + DataLoader``: the same loop written as public FedRec code (PFedRec's
     engine) writes it (:func:`module_round`): ``copy.deepcopy`` of an ``nn.Module`` holding the user
     embedding and an ``nn.Embedding`` item table, a ``DataLoader`` over the client's samples, SGD.

   All engines draw the same samples in the same order, so their validation HR@10 per round must be equal and
   their parameters equal up to float rounding (both printed);
2. ``--rounds`` rounds (default 100) of the compiled and of the batched engine, end to end (sampling, training,
   FedAvg, validation every round).

Prints one table: seconds per round (median over repeats, wall and CPU), the speed-up, the 100-round time and
the validation HR@10, with the load average of the machine (timings on a shared machine vary with it).

Usage: python benchmarks/fedrec_speed.py [--rounds 100] [--compare-rounds 3] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from _fedrec_default import default_fed_data
from tabulate import tabulate

from harness.tracks.fedrec import fed_config
from harness.tracks.fedrec.fedsim import (
    FedResult,
    FedState,
    UpdateSums,
    apply_fedavg,
    client_update_loop,
    make_model,
    sample_round,
    simulate,
    validation_hit_rate,
)
from harness.tracks.fedrec.fedsim.simulation import _participants, _round_generator


def _per_client_round(model, state, data, config, round_index, seed, trainer_for):
    """One FedMF round client by client: the round's draws, each client's training, full-table FedAvg.

    ``trainer_for(global_items)`` returns ``train(user_emb, items, labels, keys)``, which trains one client
    from the downloaded table on its samples (``keys``: (n_epochs, n) order keys) and returns its user
    embedding and its whole item table.
    """
    generator = _round_generator(seed, round_index)
    users = _participants(data.n_users, config.clients_per_round, generator)
    samples = sample_round(data.train_indptr, data.train_items, data.exclude, users,
                           n_negatives=config.n_negatives, n_epochs=config.local_epochs, generator=generator)
    train = trainer_for(state.items)
    sums = UpdateSums.zeros_like(state.items, {})
    for p, user in enumerate(users.tolist()):
        segment = slice(int(samples.indptr[p]), int(samples.indptr[p + 1]))
        user_emb, table = train(state.private["user"][user], samples.items[segment], samples.labels[segment],
                                samples.keys[:, segment])
        state.private["user"][user] = user_emb
        sums.items += float(samples.n_positives[p]) * (table - state.items)  # upload the full change
        sums.weight += float(samples.n_positives[p])
    state.items, _ = apply_fedavg(state.items, {}, sums, server_lr=config.server_lr)
    return validation_hit_rate(model, state, data, k=config.k)


def plain_round(model, state, data, config, round_index, seed):
    """One FedMF round written client by client on full model copies (raw tensors, no batching)."""

    def trainer_for(global_items):
        def train(user_vec, items, labels, keys):
            user_emb = torch.nn.Parameter(user_vec.clone())
            table = torch.nn.Parameter(global_items.clone())  # the client's copy of the whole item table
            optimizer = torch.optim.SGD([{"params": [user_emb], "lr": config.lr},
                                         {"params": [table], "lr": config.item_lr}])
            for epoch in range(config.local_epochs):
                order = torch.argsort(keys[epoch], stable=True)
                for start in range(0, len(order), config.batch_size):
                    batch = order[start : start + config.batch_size]
                    loss = F.binary_cross_entropy_with_logits(table[items[batch]] @ user_emb, labels[batch])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
            return user_emb.detach(), table.detach()

        return train

    return _per_client_round(model, state, data, config, round_index, seed, trainer_for)


class ClientMF(torch.nn.Module):
    """FedMF as a client module: one user embedding and the item table as ``nn.Embedding``."""

    def __init__(self, n_items: int, dim: int) -> None:
        super().__init__()
        self.user = torch.nn.Parameter(torch.zeros(dim))
        self.items = torch.nn.Embedding(n_items, dim)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        return self.items(items) @ self.user


def module_round(model, state, data, config, round_index, seed):
    """One FedMF round as module-based FedRec code runs it: deepcopy, DataLoader and SGD per client."""

    def trainer_for(global_items):
        server_model = ClientMF(*global_items.shape)
        with torch.no_grad():
            server_model.items.weight.copy_(global_items)

        def train(user_vec, items, labels, keys):
            client = copy.deepcopy(server_model)
            with torch.no_grad():
                client.user.copy_(user_vec)
            optimizer = torch.optim.SGD([{"params": [client.user], "lr": config.lr},
                                         {"params": client.items.parameters(), "lr": config.item_lr}])
            for epoch in range(config.local_epochs):
                order = torch.argsort(keys[epoch], stable=True)
                dataset = torch.utils.data.TensorDataset(items[order], labels[order])
                for batch_items, batch_labels in torch.utils.data.DataLoader(dataset, batch_size=config.batch_size):
                    optimizer.zero_grad()
                    loss = F.binary_cross_entropy_with_logits(client(batch_items), batch_labels)
                    loss.backward()
                    optimizer.step()
            return client.user.detach(), client.items.weight.detach()

        return train

    return _per_client_round(model, state, data, config, round_index, seed, trainer_for)


def plain_simulate(model, data, config, seed, round_fn=plain_round):
    """Rounds of ``round_fn`` from the same initial parameters as :func:`harness.tracks.fedrec.fedsim.simulate`."""
    generator = torch.Generator().manual_seed(seed)
    items, dense = model.init_shared(data.n_items, generator)
    state = FedState(model.init_private(data.n_users, generator), items, dense)
    val_hr = [round_fn(model, state, data, config, r, seed) for r in range(config.n_rounds)]
    return FedResult(state, config.n_rounds - 1, state, np.asarray(val_hr), np.zeros(0), np.zeros(0), np.zeros(0),
                     np.zeros(0))


def _timed(run):
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100, help="rounds of the end-to-end runs")
    parser.add_argument("--compare-rounds", type=int, default=3, help="rounds of each side-by-side run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of the side-by-side runs")
    parser.add_argument("--data-root", type=Path, default=None, help="data root (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every engine (default: 1)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, args.threads))
    track, budget, data = default_fed_data(args.data_root, args.compare_rounds)
    model = make_model("mf", budget.embedding_dim)
    config = fed_config(budget)
    simulate(model, data, fed_config(track.budget("default", n_rounds=1)), seed=0)  # warm-up
    engines = {
        "compiled": lambda: simulate(model, data, config, seed=0),
        "vectorised (batched tensors)": lambda: simulate(model, data, config, seed=0, engine="batched"),
        "per-client loop (compact rows)": lambda: simulate(model, data, config, seed=0,
                                                           client_step=client_update_loop, clients_per_chunk=1),
        "plain per-client loop": lambda: plain_simulate(model, data, config, seed=0),
        "per-client loop, nn.Module + DataLoader": lambda: plain_simulate(model, data, config, seed=0,
                                                                          round_fn=module_round),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in engines}
    results = {}
    for _ in range(args.repeats):
        for name, run in engines.items():
            results[name], wall, cpu = _timed(run)
            times[name].append((wall, cpu))
    fast = results["compiled"]
    if fast.extra.get("engine") != "compiled":
        print("numba is not installed: the 'compiled' row ran the batched step")
    same_hr = all(bool((fast.val_hr == r.val_hr).all()) for r in results.values())
    max_diff = max(float((fast.final_state.items - r.final_state.items).abs().max()) for r in results.values())
    full_config = fed_config(track.budget("default", n_rounds=args.rounds))
    full = {engine: _timed(lambda engine=engine: simulate(model, data, full_config, seed=0, engine=engine))
            for engine in ("auto", "batched")}
    per_round = {
        name: (statistics.median(w for w, _ in t) / args.compare_rounds,
               statistics.median(c for _, c in t) / args.compare_rounds)
        for name, t in times.items()
    }
    fastest_s = per_round["compiled"][0]
    rows = [
        [name, args.compare_rounds, f"{wall:.3f}", f"{cpu:.3f}", f"{wall * 100:.1f}",
         f"{results[name].val_hr[-1]:.4f}", f"{wall / fastest_s:.1f}x"]
        for name, (wall, cpu) in per_round.items()
    ]
    for engine, (result, wall, cpu) in full.items():
        name = "compiled" if engine == "auto" else "vectorised (batched tensors)"
        rows.append([f"{name}, end to end", args.rounds, f"{wall / args.rounds:.3f}", f"{cpu / args.rounds:.3f}",
                     f"{wall * 100 / args.rounds:.1f} (measured {wall:.1f})", f"{result.val_hr[-1]:.4f}", ""])
    print(f"FedMF, {data.n_users} clients, {data.n_items} items, {len(data.train_items)} training interactions; "
          f"{torch.get_num_threads()} thread(s); load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(tabulate(rows, headers=["engine", "rounds", "s/round (wall)", "s/round (cpu)", "100 rounds (s)",
                                  "val HR@10 (last round)", "time / compiled"], tablefmt="github"))
    print(f"same validation HR@10 in every round for all engines: {same_hr}; largest difference of the item "
          f"tables after {args.compare_rounds} rounds: {max_diff:.2e}")


if __name__ == "__main__":
    main()
