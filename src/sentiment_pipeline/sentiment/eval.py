"""Agreement metrics for three-way sentiment labels: pure functions, no numpy.

Each function takes label sequences of equal length (`truth`: a person's labels,
`predicted`: a model's; or two models' labels for kappa) over the classes `LABELS`
(`positive`, `neutral`, `negative`, in that order). The definitions are scikit-learn's
(`accuracy_score`, `precision_score`/`recall_score`/`f1_score` with `zero_division=0`,
`f1_score(average="macro")`, `confusion_matrix`, `cohen_kappa_score`), so the numbers
can be checked against it:

- confusion matrix: `matrix[i][j]` counts items whose truth is `LABELS[i]` and whose
  prediction is `LABELS[j]` (rows: the person, columns: the model);
- precision of a class: right among those predicted so (0 when none was); recall: right
  among those truly so (0 when none was); F1: their harmonic mean (0 when both are 0);
- macro-F1: the unweighted mean of the three classes' F1 (a class absent from both
  sides counts with F1 0, as scikit-learn does when `labels=` names it);
- Cohen's kappa: (p_o - p_e) / (1 - p_e), observed agreement against the agreement
  expected from each side's label shares; 1 when both sides agree perfectly on a single
  class (p_e = 1; scikit-learn returns nan there), 0 for no items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LABELS",
    "ClassScores",
    "Metrics",
    "accuracy",
    "cohen_kappa",
    "confusion_matrix",
    "macro_f1",
    "metrics",
    "per_class",
]

LABELS: tuple[str, str, str] = ("positive", "neutral", "negative")
Matrix = list[list[int]]


def _paired(truth: Sequence[str], predicted: Sequence[str]) -> None:
    """ValueError unless both sides have the same length and only known labels."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} labels against {len(predicted)} predictions")
    unknown = (set(truth) | set(predicted)) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown label {sorted(unknown)[0]!r}: choose from {', '.join(LABELS)}")


def confusion_matrix(truth: Sequence[str], predicted: Sequence[str]) -> Matrix:
    """3 x 3 counts in `LABELS` order: row = truth, column = prediction."""
    _paired(truth, predicted)
    index = {label: i for i, label in enumerate(LABELS)}
    matrix = [[0] * len(LABELS) for _ in LABELS]
    for t, p in zip(truth, predicted, strict=True):
        matrix[index[t]][index[p]] += 1
    return matrix


def _accuracy(matrix: Matrix) -> float:
    total = sum(map(sum, matrix))
    return sum(matrix[i][i] for i in range(len(matrix))) / total if total else 0.0


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of items where the prediction equals the truth (0 for no items)."""
    return _accuracy(confusion_matrix(truth, predicted))


@dataclass(frozen=True)
class ClassScores:
    """One class's figures; `support`: items whose truth is this class."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
        }


def _per_class(matrix: Matrix) -> list[ClassScores]:
    out: list[ClassScores] = []
    for i, label in enumerate(LABELS):
        right = matrix[i][i]
        predicted = sum(row[i] for row in matrix)
        actual = sum(matrix[i])
        precision = right / predicted if predicted else 0.0
        recall = right / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append(ClassScores(label, precision, recall, f1, actual))
    return out


def per_class(truth: Sequence[str], predicted: Sequence[str]) -> list[ClassScores]:
    """Precision, recall, F1 and support of each class, in `LABELS` order."""
    return _per_class(confusion_matrix(truth, predicted))


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """The unweighted mean F1 of the three classes."""
    return sum(c.f1 for c in per_class(truth, predicted)) / len(LABELS)


def _kappa(matrix: Matrix) -> float:
    total = sum(map(sum, matrix))
    if not total:
        return 0.0
    observed = _accuracy(matrix)
    rows = [sum(row) / total for row in matrix]
    columns = [sum(row[j] for row in matrix) / total for j in range(len(matrix))]
    expected = sum(r * c for r, c in zip(rows, columns, strict=True))
    if expected >= 1.0:
        return 1.0  # both sides gave one and the same class to every item
    return (observed - expected) / (1 - expected)


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float:
    """Cohen's kappa between two labellings of the same items (symmetric)."""
    return _kappa(confusion_matrix(first, second))


@dataclass(frozen=True)
class Metrics:
    """Everything `sentiment eval` prints for one model against the person's labels."""

    items: int
    accuracy: float
    macro_f1: float
    kappa: float  # Cohen's kappa between the model and the labels
    classes: list[ClassScores]
    confusion: Matrix  # rows: the person's label, columns: the model's (LABELS order)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "kappa": self.kappa,
            "classes": {c.label: c.to_dict() for c in self.classes},
            "confusion": {
                "labels": list(LABELS),
                "matrix": [list(row) for row in self.confusion],
            },
        }


def metrics(truth: Sequence[str], predicted: Sequence[str]) -> Metrics:
    """All of the above from one confusion matrix."""
    matrix = confusion_matrix(truth, predicted)
    classes = _per_class(matrix)
    return Metrics(
        items=len(truth),
        accuracy=_accuracy(matrix),
        macro_f1=sum(c.f1 for c in classes) / len(LABELS),
        kappa=_kappa(matrix),
        classes=classes,
        confusion=matrix,
    )
