"""Per-person standardisation without labels: each person's (speaker's, face's) feature vectors standardised by
the statistics of that person's own unlabelled recordings, optionally shrunk towards a prior of many people.

Used by the speech probe's speaker-adapted heads, the audio-visual systems' adapted mode and face adaptation.
"""

from __future__ import annotations

import numpy as np

#: People with fewer recordings than this are not standardised on their own (too few to estimate statistics).
MIN_SPEAKER_RECORDINGS = 2


def speaker_statistics(x: np.ndarray, prior: tuple[np.ndarray, np.ndarray] | None = None,
                       tau: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation ``(D,)`` of one speaker's ``(n, D)`` feature vectors, shrunk towards
    ``prior = (mean, std)`` (of many speakers) as if it held ``tau`` more recordings: with few recordings (or
    recordings of one emotion only) a speaker's own statistics are noisy, and the prior steadies them."""
    x = np.asarray(x, dtype=np.float64)
    mean, std = shrink_statistics(x.mean(0), x.std(0), len(x), prior, tau)
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)


def shrink_statistics(mean: np.ndarray, std: np.ndarray, n: int, prior: tuple[np.ndarray, np.ndarray] | None,
                      tau: float) -> tuple[np.ndarray, np.ndarray]:
    """A speaker's mean and standard deviation ``(D,)`` over ``n`` recordings, shrunk towards ``prior = (mean,
    std)`` as if the speaker had ``tau`` more recordings that looked like the prior (float64; unchanged when
    ``prior`` is None or ``tau`` is 0)."""
    mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    if prior is None or tau <= 0:
        return mean, std
    prior_mean, prior_std = (np.asarray(p, np.float64) for p in prior)
    return ((n * mean + tau * prior_mean) / (n + tau),
            np.sqrt((n * std ** 2 + tau * prior_std ** 2) / (n + tau)))


def standardise_by_speaker(x: np.ndarray, speakers: np.ndarray, prior: tuple[np.ndarray, np.ndarray] | None = None,
                           tau: float = 0.0, stats_rows: np.ndarray | None = None,
                           offsets: np.ndarray | None = None, between: np.ndarray | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
    """``x`` with each speaker's rows standardised by that speaker's statistics (:func:`speaker_statistics`,
    computed over the rows where ``stats_rows`` is True, default all), and a mask of the rows that were
    (speakers with fewer than :data:`MIN_SPEAKER_RECORDINGS` recordings are left as they are).

    ``offsets`` ``(n, D)``: each row's emotion offset (:func:`emotion_offsets`), removed before the statistics are
    taken, so that a speaker heard mostly in one emotion keeps it; ``between`` ``(D,)``: the variance the emotions
    add, put back into the speaker's spread (``prior`` is then over the offset-free rows)."""
    out = np.array(x, dtype=np.float32, copy=True)
    residual = x if offsets is None else x - offsets
    done = np.zeros(len(x), bool)
    for speaker in np.unique(speakers):
        rows = np.flatnonzero(speakers == speaker)
        basis = rows if stats_rows is None else rows[stats_rows[rows]]
        if len(basis) >= MIN_SPEAKER_RECORDINGS:
            mean, std = speaker_statistics(residual[basis], prior, tau)
            if between is not None:
                std = np.sqrt(std.astype(np.float64) ** 2 + between).astype(np.float32)
            out[rows] = (x[rows] - mean) / std
            done[rows] = True
    return out, done


def population_prior(x: np.ndarray, people: np.ndarray, stats_rows: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The prior of :func:`speaker_statistics`: the mean of the people's means and the root mean of their variances
    ``(D,)`` (over the rows where ``stats_rows`` is True; people with fewer than :data:`MIN_SPEAKER_RECORDINGS`
    such rows are left out).

    Raises:
        ValueError: when no person has enough rows.
    """
    means, variances = [], []
    for person in np.unique(people):
        rows = np.flatnonzero(people == person)
        if stats_rows is not None:
            rows = rows[stats_rows[rows]]
        if len(rows) >= MIN_SPEAKER_RECORDINGS:
            means.append(np.asarray(x[rows], np.float64).mean(0))
            variances.append(np.asarray(x[rows], np.float64).var(0))
    if not means:
        raise ValueError(f"no person has {MIN_SPEAKER_RECORDINGS} recordings to take statistics from")
    return (np.mean(means, 0).astype(np.float32),
            np.maximum(np.sqrt(np.mean(variances, 0)), 1e-3).astype(np.float32))
