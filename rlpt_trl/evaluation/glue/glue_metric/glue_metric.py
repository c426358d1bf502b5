"""GLUE metrics as an `evaluate` module, loaded from this folder: `evaluate.load(<this folder>, "cola")`.

The official metric of each task, computed with scikit-learn and SciPy: Matthews correlation (CoLA), Pearson and
Spearman correlation (STS-B), accuracy and F1 of the positive class (MRPC, QQP), accuracy (the others).
"""

import datasets
import evaluate
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef


_CITATION = """\
@inproceedings{wang2019glue,
  title={{GLUE}: A Multi-Task Benchmark and Analysis Platform for Natural Language Understanding},
  author={Wang, Alex and Singh, Amanpreet and Michael, Julian and Hill, Felix and Levy, Omer and Bowman, Samuel R.},
  booktitle={International Conference on Learning Representations},
  year={2019}
}
"""

_DESCRIPTION = """\
The official metric of a GLUE task. The configuration names the task: cola, sst2, mrpc, qqp, stsb, mnli,
mnli_matched, mnli_mismatched, qnli, rte, wnli, ax.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted labels (class indices; any value that is not a class, such as -1 for an unparseable
        answer, counts as wrong), or predicted scores for stsb.
    references: gold labels, or gold scores for stsb.
Returns:
    cola: {"matthews_correlation"}; stsb: {"pearson", "spearmanr"}; mrpc, qqp: {"accuracy", "f1"};
    every other task: {"accuracy"}.
Examples:
    >>> metric = evaluate.load("path/to/glue_metric", "mrpc")
    >>> metric.compute(predictions=[0, 1, 1], references=[0, 1, 0])
    {'accuracy': 0.6666666666666666, 'f1': 0.6666666666666666}
"""

TASKS = ("cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "mnli_matched", "mnli_mismatched", "qnli", "rte", "wnli", "ax")


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class GlueMetric(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        if self.config_name not in TASKS:
            raise KeyError(f"unknown GLUE task {self.config_name!r}; choose from {', '.join(TASKS)}")
        value = datasets.Value("float64" if self.config_name == "stsb" else "int64")
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            # no "numpy" format: datasets would hand float64 scores over as float32
            features=datasets.Features({"predictions": value, "references": value}),
        )

    def _compute(self, predictions, references) -> dict[str, float]:
        if self.config_name == "cola":
            return {"matthews_correlation": float(matthews_corrcoef(references, predictions))}
        if self.config_name == "stsb":
            return {
                "pearson": float(pearsonr(predictions, references)[0]),
                "spearmanr": float(spearmanr(predictions, references)[0]),
            }
        accuracy = float(accuracy_score(references, predictions))
        if self.config_name in ("mrpc", "qqp"):
            # F1 of class 1; restricting to that label keeps an invalid answer (-1) a plain non-positive prediction
            f1 = f1_score(references, predictions, labels=[1], average="micro")
            return {"accuracy": accuracy, "f1": float(f1)}
        return {"accuracy": accuracy}
