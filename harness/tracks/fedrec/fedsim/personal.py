"""Every client's local item table, stored as the rows it trained on top of the global table it downloaded.

A client of a method with personal item tables (PFedRec, PLGC) ends each of its rounds with the table it downloaded,
its trained rows in place (:mod:`~harness.tracks.fedrec.fedsim.simulation`). Held densely, that is n_users x n_items x
dim numbers (Lastfm-2K: 1,883 x 17,626 x 32 float32, 4.2 GB), although a client trains only the rows of the items it
sampled that round (its positives and their negatives). :class:`PersonalTables` keeps just those rows per client, and
for the rest a reference to the global table the client downloaded in that round (a *version*): tables of the rounds
still referenced by some client are kept, the others are freed. Memory is O(sampled rows x dim) plus one (n_items,
dim) table per version in use: one when every client takes part in every round (the default), at most one per round
when clients are sampled.

Reading a client's row gives exactly what the dense table held: its own row when it trained the item in its last
round, else the row of the version it downloaded (tested against a dense table in
``tests/tracks/fedrec/test_fedsim_personal.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["PersonalTables"]


@dataclass
class PersonalTables:
    """Personal item tables of ``n_users`` clients: each one's own rows over a downloaded global table.

    Attributes:
        n_items: Rows of every table.
        base: int64 tensor of shape (n_users,), the version each client's table starts from.
        versions: Version -> float32 tensor of shape (n_items, dim), a global table as a client downloaded it.
            Never changed in place (the simulator's FedAvg returns a new table), so snapshots share them.

    No tensor of the tables is changed in place either (:meth:`replace` builds new ones), so a snapshot
    (:meth:`clone`) shares them and costs no memory.
        indptr: int64 tensor of shape (n_users + 1,); client u's own rows are ``indptr[u]:indptr[u + 1]``.
        items: int64 tensor of shape (R,), the item of each own row, ascending within a client.
        rows: float32 tensor of shape (R, dim), the own rows.
    """

    n_items: int
    base: torch.Tensor
    versions: dict[int, torch.Tensor]
    indptr: torch.Tensor
    items: torch.Tensor
    rows: torch.Tensor

    @classmethod
    def start(cls, n_users: int, table: torch.Tensor) -> PersonalTables:
        """Every client's table is ``table`` (n_items, dim), with no row of its own."""
        return cls(
            table.shape[0], torch.zeros(n_users, dtype=torch.int64), {0: table},
            torch.zeros(n_users + 1, dtype=torch.int64), torch.zeros(0, dtype=torch.int64),
            table.new_zeros(0, table.shape[1]),
        )

    @property
    def n_users(self) -> int:
        """Number of clients."""
        return len(self.base)

    @property
    def dim(self) -> int:
        """Embedding size."""
        return self.rows.shape[1]

    @property
    def nbytes(self) -> int:
        """Bytes held: own rows, their items and offsets, and the versions in use."""
        held = [self.rows, self.items, self.indptr, self.base, *self.versions.values()]
        return sum(t.numel() * t.element_size() for t in held)

    def clone(self) -> PersonalTables:
        """A snapshot that later rounds do not change; it shares every tensor (none is changed in place)."""
        return PersonalTables(self.n_items, self.base, dict(self.versions), self.indptr, self.items, self.rows)

    def gather(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Rows of ``items`` (B, C) in the tables of ``users`` (B,) -> float32 (B, C, dim); every item when None.

        Cost: O(B * C * dim) for the output, plus a binary search of each (user, item) among the own rows.
        """
        if items is None:
            items = torch.arange(self.n_items).expand(len(users), self.n_items)
        base = self.base[users]
        first = next(iter(self.versions.values()))
        out = torch.empty(*items.shape, first.shape[1], dtype=first.dtype)
        for version in base.unique().tolist():
            where = torch.nonzero(base == version).squeeze(1)
            out[where] = self.versions[version][items[where]]
        if len(self.items):
            key = users[:, None] * self.n_items + items
            own_key = self._keys()
            position = torch.searchsorted(own_key, key).clamp(max=len(own_key) - 1)
            found = own_key[position] == key
            out[found] = self.rows[position[found]]
        return out

    def _keys(self) -> torch.Tensor:
        """Sorted key ``user * n_items + item`` of every own row."""
        owner = torch.repeat_interleave(torch.arange(self.n_users), self.indptr[1:] - self.indptr[:-1])
        return owner * self.n_items + self.items

    def replace(
        self, users: torch.Tensor, table: torch.Tensor, row_indptr: torch.Tensor, row_items: torch.Tensor,
        rows: torch.Tensor, *, version: int,
    ) -> None:
        """Give each of ``users`` the table ``table`` (its download) with its new own rows; drop its old rows.

        Args:
            users: int64 tensor of shape (P,), distinct clients, any order.
            table: float32 tensor of shape (n_items, dim), the global table they downloaded (kept, not copied).
            row_indptr: int64 tensor of shape (P + 1,); user ``users[p]``'s rows are ``row_indptr[p]:row_indptr[p+1]``.
            row_items: int64 tensor of shape (R',), the item of each new row, distinct within a user.
            rows: float32 tensor of shape (R', dim), the new rows.
            version: Id of ``table`` (the round it was downloaded in); an id already held must be the same table.
        """
        if version in self.versions and self.versions[version] is not table:
            msg = f"version {version} of the personal tables is already another table; give each download its own id."
            raise ValueError(msg)
        self.versions[version] = table
        base = self.base.clone()
        base[users] = version
        self.base = base
        taking_part = torch.zeros(self.n_users, dtype=torch.bool)
        taking_part[users] = True
        old_owner = torch.repeat_interleave(torch.arange(self.n_users), self.indptr[1:] - self.indptr[:-1])
        keep = ~taking_part[old_owner]
        new_owner = torch.repeat_interleave(users, row_indptr[1:] - row_indptr[:-1])
        if keep.any():
            owner = torch.cat([old_owner[keep], new_owner])
            item = torch.cat([self.items[keep], row_items])
            rows = torch.cat([self.rows[keep], rows])
        else:  # every client with rows takes part (every round by default): no copy of the old rows
            owner, item = new_owner, row_items
        key = owner * self.n_items + item
        if len(key) > 1 and not bool((key[1:] > key[:-1]).all()):  # the compiled step's rows come sorted
            order = torch.argsort(key)
            owner, item, rows = owner[order], item[order], rows[order]
        self.items, self.rows = item, rows
        indptr = torch.zeros(self.n_users + 1, dtype=torch.int64)
        indptr[1:] = torch.cumsum(torch.bincount(owner, minlength=self.n_users), 0)
        self.indptr = indptr
        in_use = set(self.base.unique().tolist())
        self.versions = {k: v for k, v in self.versions.items() if k in in_use}
