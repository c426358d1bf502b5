from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import evaluate
import numpy as np
import pytest
import torch
import yaml
from datasets import Dataset
from matplotlib.image import imread
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
from trl import SFTConfig, SFTTrainer, TrlParser

from rlpt_trl import RlptError, load_glue, load_model_and_tokenizer
from rlpt_trl.cli import main as cli_main
from rlpt_trl.evaluation import EvalArguments, EvalCallback, EvalCallbackArguments, markdown_table, run_eval
from rlpt_trl.evaluation.bootstrap import BootstrapIntervals, bootstrap_results
from rlpt_trl.evaluation.callback import training_eval_tasks
from rlpt_trl.evaluation.glue import (
    DEFAULT_TASKS,
    GLUE_EVAL_TASKS,
    SCORING_MODES,
    GlueArguments,
    GlueResult,
    GlueTaskSpec,
    build_task_prompts,
    compute_glue_metrics,
    evaluate_task,
    get_task,
    score_continuations,
)
from rlpt_trl.evaluation.glue.metrics import GLUE_METRIC_PATH
from rlpt_trl.evaluation.glue.spec import TASK_CONFIG_DIR, select_tasks
from rlpt_trl.testing.tensorboard import read_scalars
from rlpt_trl.testing.tiny_models import build_tiny_causal_lm


def _official_metrics(task: str, predictions: list, labels: list) -> dict[str, float]:
    """The GLUE metrics straight from scikit-learn / SciPy (an invalid answer, -1, is not a positive prediction)."""
    if task == "cola":
        return {"matthews_correlation": matthews_corrcoef(labels, predictions)}
    if task == "stsb":
        return {"pearson": pearsonr(predictions, labels)[0], "spearmanr": spearmanr(predictions, labels)[0]}
    metrics = {"accuracy": accuracy_score(labels, predictions)}
    if task == "mrpc":
        metrics["f1"] = f1_score(labels, [int(p == 1) for p in predictions])
    return metrics


def _check_report(output_dir: Path, scoring: str) -> dict:
    """Every prediction file's records have the documented fields; metrics.json equals sklearn/scipy on them."""
    summary = json.loads((output_dir / "metrics.json").read_text())
    for tasks in summary.values():
        for task, entry in tasks.items():
            records = json.loads((output_dir / entry["predictions"]).read_text())
            assert entry["n"] == len(records) and entry["scoring"] == scoring
            extra = "choices" if scoring == "loglik" else "generated"
            assert all(set(record) == {"idx", "prompt", "label", "prediction", extra} for record in records)
            if scoring == "loglik":
                assert all(list(record["choices"]) == get_task(task).choices for record in records)
                assert entry["invalid"] == 0
            else:
                invalid = [record for record in records if get_task(task).parse(record["generated"]) is None]
                assert entry["invalid"] == len(invalid)
                assert all(record["prediction"] == get_task(task).invalid_prediction for record in invalid)
            predictions = [record["prediction"] for record in records]
            labels = [record["label"] for record in records]
            for name, value in _official_metrics(task, predictions, labels).items():
                if np.isnan(value):
                    assert entry[name] is None
                else:
                    assert entry[name] == pytest.approx(value, abs=1e-12), (task, name)
    return summary


def _direct_loglik(model, tokenizer, prompt: str, choice: str) -> float:
    """Sum of log-softmax over the continuation tokens of one unbatched forward of `prompt + " " + choice`."""
    context = tokenizer(prompt)["input_ids"]
    whole = tokenizer(f"{prompt} {choice}")["input_ids"]
    assert whole[: len(context)] == context
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([whole])).logits[0].float(), dim=-1)
    return sum(logprobs[position - 1, whole[position]].item() for position in range(len(context), len(whole)))


def _eval_args(**overrides) -> tuple[EvalArguments, list[GlueArguments]]:
    """`run_eval`'s arguments: the shared ones and the GLUE kind's, each override given to its dataclass."""
    glue_fields = {field.name for field in dataclasses.fields(GlueArguments)}
    glue = GlueArguments(**{name: value for name, value in overrides.items() if name in glue_fields})
    shared = {name: value for name, value in overrides.items() if name not in glue_fields}
    return EvalArguments(**{"dtype": "float32", "device": "cpu", **shared}), [glue]


def _task_file(path: Path, **changes) -> Path:
    """A YAML task file holding the built-in CoLA spec's fields with `changes` (a None value drops the key)."""
    fields = json.loads(json.dumps({**dataclasses.asdict(get_task("cola")), **changes}))
    path.write_text(yaml.safe_dump({key: value for key, value in fields.items() if value is not None}))
    return path


# the prompt_version of every built-in task before the specs moved into YAML files: results stay comparable
PROMPT_VERSIONS = {
    "cola": "cola-v1-9d246591",
    "sst2": "sst2-v1-20aeec8e",
    "mrpc": "mrpc-v1-64c670cd",
    "stsb": "stsb-v1-c647227b",
    "rte": "rte-v1-b03bc9a3",
    "wnli": "wnli-v1-6cde8299",
    "qnli": "qnli-v1-13ec382c",
}


# ---------------------------------------------------------------- tasks, metrics, errors (fast)


def test_builtin_tasks() -> None:
    assert set(DEFAULT_TASKS) <= set(GLUE_EVAL_TASKS) and {"sst2", "qnli"} <= set(GLUE_EVAL_TASKS)
    assert get_task("cola").metrics == ("matthews_correlation",)
    assert get_task("stsb").metrics == ("pearson", "spearmanr")
    assert get_task("mrpc").metrics == ("accuracy", "f1")
    assert get_task("rte").metrics == get_task("wnli").metrics == ("accuracy",)
    cola = get_task("cola")
    assert {"yes", "acceptable", "grammatical", "correct"} <= set(cola.label_words[1])
    assert cola.parse(" Yes, it does.") == 1 and cola.parse(" It is unacceptable.") == 0
    assert cola.parse(" NO") == 0 and cola.parse(" maybe") is None and cola.parse("") is None
    assert get_task("rte").parse(" False.") == 1 and get_task("wnli").parse(" False.") == 0
    stsb = get_task("stsb")
    assert stsb.parse(" 3.5 out of 5") == 3.5 and stsb.parse(" 7") == 5.0 and stsb.parse(" high") is None
    assert stsb.invalid_prediction == 2.5 and cola.invalid_prediction == -1
    assert stsb.answer(3.8) == "4" and cola.answer(0) == "no"
    changed = dataclasses.replace(cola, template="Is this English? {sentence}\nAnswer:")
    assert changed.prompt_version != cola.prompt_version and changed.prompt_version.startswith("cola-v1-")


def test_task_files_keep_prompt_versions() -> None:
    assert list(GLUE_EVAL_TASKS) == list(PROMPT_VERSIONS)  # GLUE's order, as before
    assert {name: spec.prompt_version for name, spec in GLUE_EVAL_TASKS.items()} == PROMPT_VERSIONS
    assert sorted(path.stem for path in TASK_CONFIG_DIR.glob("*.yaml")) == sorted(PROMPT_VERSIONS)
    assert all(spec.source == name for name, spec in GLUE_EVAL_TASKS.items())
    assert get_task("stsb").score_values == (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)


def test_task_file_round_trips(tmp_path: Path) -> None:
    for name, spec in GLUE_EVAL_TASKS.items():
        assert GlueTaskSpec.from_yaml(_task_file(tmp_path / f"{name}.yaml", **dataclasses.asdict(spec))) == spec
    stsb = {**dataclasses.asdict(get_task("stsb")), "score_values": [0, 1, 2, 3, 4, 5]}  # integers read as floats
    assert GlueTaskSpec.from_yaml(_task_file(tmp_path / "scores.yaml", **stsb)) == get_task("stsb")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"cannot read task file .*task\.yaml: No such file or directory"),
        (b"name: caf\xe9\n", r"task file .*task\.yaml: not UTF-8"),
        ("name: cola\ntemplate: [unclosed\n", r"task file .*task\.yaml:\d+: malformed YAML: "),
        ("- cola\n", "expected a mapping of task fields, got list"),
        ({"templat": "{sentence}"}, "unknown key 'templat'; the keys are name, source, template, label_words"),
        ({"metrics": None}, "missing key 'metrics'"),
        # what YAML reads from an unquoted `no`
        ({"label_words": [[False], ["yes"]]}, r"label_words\[0\]\[0\] must be a string \(quote it\), got False"),
        ({"metrics": "matthews_correlation"}, "metrics must be a list, got 'matthews_correlation'"),
        ({"score_values": ["high"]}, r"score_values\[0\] must be a number, got 'high'"),
        ({"template": "{text}\nAnswer:"}, r"task 'cola': template fields \['text'\] must be text columns of cola"),
        ({"label_words": [[], ["yes"]]}, "every label_words entry needs at least one word"),
        ({"name": "../cola"}, r"task name '\.\./cola': use letters, digits"),
    ],
)
def test_bad_task_file(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "task.yaml"
    if isinstance(content, dict):
        _task_file(path, **content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(RlptError, match=message) as info:
        GlueTaskSpec.from_yaml(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_task_files_join_the_named_tasks(tmp_path: Path) -> None:
    short = _task_file(tmp_path / "short.yaml", name="cola_short", template="{sentence}\nGrammatical?")
    other = _task_file(tmp_path / "other.yaml", name="cola_other")
    assert select_tasks(None) == [get_task(name) for name in DEFAULT_TASKS]
    assert [spec.name for spec in select_tasks(None, [short])] == ["cola_short"]  # files alone: no default tasks
    assert [spec.name for spec in select_tasks(["rte,cola"], [short, other, short])] == [
        "rte",
        "cola",
        "cola_short",
        "cola_other",
    ]
    assert select_tasks(None, [short])[0].template == "{sentence}\nGrammatical?"
    with pytest.raises(RlptError, match=r"again\.yaml: the task name 'cola_short' is taken by an earlier task file"):
        select_tasks(None, [short, _task_file(tmp_path / "again.yaml", name="cola_short")])
    with pytest.raises(RlptError, match=r"cola\.yaml: the task name 'cola' is taken by a built-in task"):
        select_tasks(["rte"], [TASK_CONFIG_DIR / "cola.yaml"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"template": "{text}\nAnswer:"}, r"template fields \['text'\] must be text columns of cola"),
        ({"template": "no field"}, "template fields"),
        ({"source": "squad"}, "unknown GLUE source 'squad'"),
        ({"label_words": (("no",), ("yes",), ("maybe",))}, "one tuple per cola label"),
        ({"label_words": (("no", "yes"), ("yes",))}, "distinct"),
        ({"label_words": (("no",), ("NO",))}, "belongs to two labels"),
        ({"label_words": (("no",), (" yes",))}, "without outer spaces"),
    ],
)
def test_bad_task_spec(overrides: dict, message: str) -> None:
    with pytest.raises(RlptError, match=message):
        dataclasses.replace(get_task("cola"), **overrides)


def test_metric_module_equals_sklearn_scipy() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200).tolist()
    predictions = rng.integers(-1, 2, 200).tolist()  # -1: an unparseable generation
    for task in ("cola", "mrpc", "rte", "wnli", "sst2"):
        result = evaluate.load(str(GLUE_METRIC_PATH), task).compute(predictions=predictions, references=labels)
        expected = _official_metrics(task, predictions, labels)
        assert result == pytest.approx(expected, abs=1e-12) and set(result) == set(expected)
    scores, gold = rng.uniform(0, 5, 300).tolist(), rng.uniform(0, 5, 300).tolist()
    result = evaluate.load(str(GLUE_METRIC_PATH), "stsb").compute(predictions=scores, references=gold)
    assert result == pytest.approx(_official_metrics("stsb", scores, gold), abs=1e-12)
    with pytest.raises(KeyError, match="unknown GLUE task"):
        evaluate.load(str(GLUE_METRIC_PATH), "squad")


def test_scoring_flags_offer_the_scoring_modes() -> None:
    action = next(action for action in TrlParser((GlueArguments,))._actions if "--scoring" in action.option_strings)
    assert tuple(action.choices) == SCORING_MODES == ("loglik", "generate")


def _table_results() -> dict[str, dict[str, GlueResult]]:
    def result(task: str, metrics: dict, invalid: int = 0) -> GlueResult:
        return GlueResult(task, metrics, 10, invalid, "generate", f"{task}-v1-0", [], source=task, num_fewshot=0)

    return {
        "base": {
            "cola": result("cola", {"matthews_correlation": 0.25}),
            "stsb": result("stsb", {"pearson": None, "spearmanr": 0.5}, invalid=2),
        },
        "sft": {"cola": result("cola", {"matthews_correlation": -0.125})},
    }


def test_markdown_table() -> None:
    assert markdown_table(_table_results()) == (
        "| model | cola MCC | stsb Pearson | stsb Spearman | invalid |\n"
        "|---|---|---|---|---|\n"
        "| base | 0.2500 | n/a | 0.5000 | stsb 2/10 |\n"
        "| sft | -0.1250 | n/a | n/a | 0 |"
    )


def test_markdown_table_with_intervals() -> None:
    undefined = (float("nan"), float("nan"))
    intervals = {
        "base": {
            "cola": BootstrapIntervals({"matthews_correlation": (0.1, 0.4)}),
            "stsb": BootstrapIntervals({"pearson": undefined, "spearmanr": (0.25, 0.75)}),
        },
        "sft": {
            "cola": BootstrapIntervals(
                {"matthews_correlation": (-0.3, 0.05)},
                {"matthews_correlation": -0.375},
                {"matthews_correlation": (-0.6, -0.1)},
            )
        },
    }
    assert markdown_table(_table_results(), intervals) == (
        "| model | cola MCC | stsb Pearson | stsb Spearman | invalid |\n"
        "|---|---|---|---|---|\n"
        "| base | 0.2500 [0.100, 0.400] | n/a | 0.5000 [0.250, 0.750] | stsb 2/10 |\n"
        "| sft | -0.1250 [-0.300, 0.050]* | n/a | n/a | 0 |\n"
        "\n"
        "[low, high]: 95 % bootstrap confidence interval over the task's examples; *: the 95 % interval of the "
        "paired difference from base excludes 0."
    )
    intervals["sft"]["cola"] = dataclasses.replace(
        intervals["sft"]["cola"], diff_ci={"matthews_correlation": (-0.6, 0.1)}
    )
    assert "| sft | -0.1250 [-0.300, 0.050] |" in markdown_table(_table_results(), intervals)
    assert markdown_table(_table_results(), {}) == markdown_table(_table_results())


def test_metrics_on_recomputes_the_metrics() -> None:
    """On every row once, the reported metrics exactly; on a resample, sklearn / SciPy's metrics of its rows."""
    rng = np.random.default_rng(0)
    for name, spec in GLUE_EVAL_TASKS.items():
        if spec.is_regression:
            labels, predictions = rng.uniform(0, 5, 50).tolist(), rng.uniform(0, 5, 50).tolist()
        else:
            labels, predictions = rng.integers(0, 2, 50).tolist(), rng.integers(-1, 2, 50).tolist()
        computed = compute_glue_metrics(spec.source, predictions, labels)
        metrics = {metric: computed[metric] for metric in spec.metrics}
        records = [{"label": label, "prediction": value} for label, value in zip(labels, predictions, strict=True)]
        result = GlueResult(
            name, metrics, 50, 0, "generate", spec.prompt_version, records, source=spec.source, num_fewshot=0
        )
        assert result.metrics_on(np.arange(50)) == metrics
        rows = rng.integers(0, 50, 50)
        expected = _official_metrics(name, [predictions[row] for row in rows], [labels[row] for row in rows])
        assert result.metrics_on(rows) == pytest.approx(expected, abs=1e-12)


def test_model_flag_repeats(tmp_path: Path) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text("model_name_or_path: [base, sft]\noutput_dir: out\ntasks: [cola]\n")

    def models(argv: list[str]) -> list[str]:
        return TrlParser((EvalArguments,)).parse_args_and_config(args=argv)[0].model_name_or_path

    repeated = ["--output_dir", "o", "--model_name_or_path", "a", "--model_name_or_path", "b", "c"]
    assert models(repeated) == ["a", "b", "c"]
    assert models(["--config", str(config)]) == ["base", "sft"]
    assert models(["--config", str(config), "--model_name_or_path", "grpo"]) == ["grpo"]  # the command line wins


def test_errors(tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path, capsys) -> None:
    common = ["--model_name_or_path", str(tiny_model_dir), "--data_dir", str(cola_sample_glue_dir)]
    output = tmp_path / "out"
    for extra, message in [
        (["--tasks", "cola,squad"], "unknown evaluation task 'squad'; choose from cola, sst2, mrpc"),
        (["--tasks", "rte"], "no rte folder in"),
        (["--tasks", "cola", "--num_fewshot", "100"], "--num_fewshot 100 exceeds the 64 rows of the train split"),
        (["--tasks", "cola", "--max_samples", "0"], "--max_samples must be at least 1"),
        (["--tasks", "cola", "--batch_size", "0"], "--batch_size must be at least 1"),
        (["--tasks", "cola", "--bootstrap_iters", "-1"], "--bootstrap_iters must be at least 0, got -1"),
        (["--tasks", "cola", "--bootstrap_seed", "-2"], "--bootstrap_seed must be at least 0, got -2"),
        (["--task_config", str(tmp_path / "none.yaml")], "cannot read task file"),
        (["--task_config", str(TASK_CONFIG_DIR / "rte.yaml")], "the task name 'rte' is taken by a built-in task"),
    ]:
        assert cli_main(["eval", *common, "--output_dir", str(output), *extra]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("rlpt-trl eval: error: ") and message in err and "\n" not in err, err
    with pytest.raises(SystemExit, match="2"):
        cli_main(["eval", *common, "--output_dir", str(output), "--scoring", "beam"])
    assert "argument --scoring: invalid choice: 'beam'" in capsys.readouterr().err
    assert not output.exists()

    empty = tmp_path / "empty"
    shutil.copytree(cola_sample_glue_dir, empty)
    for name in ("in_domain_dev.tsv", "out_of_domain_dev.tsv"):
        (empty / "cola" / name).write_text("")
    with pytest.raises(RlptError, match="cola: the validation split has no rows"):
        build_task_prompts(get_task("cola"), data_dir=empty)

    model, tokenizer = load_model_and_tokenizer(tiny_model_dir, device="cpu")
    tokenizer.pad_token, tokenizer.eos_token = None, None
    task = build_task_prompts(get_task("cola"), data_dir=cola_sample_glue_dir, max_samples=2)
    for scoring in ("loglik", "generate"):
        with pytest.raises(RlptError, match="has neither a pad nor an eos token"):
            evaluate_task(model, tokenizer, task, scoring=scoring)


# ---------------------------------------------------------------- tiny model (fast)


def test_loglik_equals_direct_computation_tiny(tiny_model_dir: Path, cola_sample_glue_dir: Path) -> None:
    """The tiny tokenizer splits every answer into several tokens: the batched multi-token path."""
    model, tokenizer = load_model_and_tokenizer(tiny_model_dir, device="cpu", dtype="float32")
    task = build_task_prompts(get_task("cola"), data_dir=cola_sample_glue_dir, max_samples=3, num_fewshot=1)
    choices = task.spec.choices
    assert all(len(tokenizer(f" {choice}")["input_ids"]) > 1 for choice in choices)
    scores = score_continuations(model, tokenizer, task.prompts, choices, batch_size=2)
    direct = [[_direct_loglik(model, tokenizer, prompt, choice) for choice in choices] for prompt in task.prompts]
    np.testing.assert_allclose(scores, direct, atol=1e-4, rtol=0)


def test_report_two_models_both_modes(tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path) -> None:
    other = build_tiny_causal_lm(tmp_path / "other-tiny", seed=1)
    models = [str(tiny_model_dir), str(other)]
    for scoring in ("loglik", "generate"):
        output = tmp_path / scoring
        args = _eval_args(
            model_name_or_path=models,
            tasks=["cola"],
            data_dir=str(cola_sample_glue_dir),
            output_dir=str(output),
            scoring=scoring,
            max_samples=6,
            num_fewshot=1,
            max_new_tokens=3,
        )
        results = run_eval(*args)
        summary = _check_report(output, scoring)
        assert list(summary) == models and results[models[0]]["cola"].num_fewshot == 1
        first, second = (results[model]["cola"] for model in models)
        assert first.metrics_on(np.arange(first.n)) == first.metrics
        # 1000 resamples from seed 0 by default, the same for both models; a re-run gives the same intervals
        intervals = bootstrap_results(results, 1000, 0)
        diff_key = f"diff_vs_{tiny_model_dir.name}"
        for model in models:
            added = {key: value for key, value in summary[model]["cola"].items() if "_ci" in key or "diff_vs" in key}
            assert added == json.loads(json.dumps(intervals[model]["cola"].summary(diff_key)))
        low, high = summary[models[0]]["cola"]["matthews_correlation_ci"]
        assert low <= high and diff_key not in summary[models[0]]["cola"]
        difference = summary[models[1]]["cola"][diff_key]
        assert set(difference) == {"matthews_correlation", "matthews_correlation_ci"}
        expected = second.metrics["matthews_correlation"] - first.metrics["matthews_correlation"]
        assert difference["matthews_correlation"] == pytest.approx(expected, abs=1e-12)
        slugs = sorted(path.name for path in (output / "predictions").iterdir())
        assert slugs == sorted([tiny_model_dir.name, "other-tiny"])
        comparison = (output / "comparison.md").read_text()
        assert "| model | cola MCC |" in comparison and str(other) in comparison
        assert f"paired difference from {tiny_model_dir} excludes 0." in comparison
        image = imread(output / "comparison.png")
        assert image.shape[0] > 200 and image.shape[1] > 300 and image.std() > 0
    one = tmp_path / "one"
    run_eval(
        *_eval_args(
            model_name_or_path=models[:1],
            tasks=["cola"],
            data_dir=str(cola_sample_glue_dir),
            output_dir=str(one),
            max_samples=4,
            bootstrap_iters=0,
        )
    )
    assert not (one / "comparison.md").exists() and (one / "metrics.json").exists()
    entry = json.loads((one / "metrics.json").read_text())[models[0]]["cola"]
    assert "matthews_correlation" in entry and not [key for key in entry if "_ci" in key or "diff_vs" in key]


def test_task_config_end_to_end(tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path) -> None:
    """`rlpt-trl eval --task_config` evaluates the files' tasks after the --tasks ones, each with its own prompt."""
    short = _task_file(
        tmp_path / "short.yaml",
        name="cola_short",
        template="{sentence}\nIs this English?",
        label_words=[["No"], ["Yes"]],
    )
    other = _task_file(tmp_path / "other.yaml", name="cola_other")
    common = [
        "--model_name_or_path",
        str(tiny_model_dir),
        "--data_dir",
        str(cola_sample_glue_dir),
        "--max_samples",
        "4",
        "--dtype",
        "float32",
        "--device",
        "cpu",
    ]
    both = tmp_path / "both"
    flags = ["--tasks", "cola", "--task_config", str(short), "--task_config", str(other), "--output_dir", str(both)]
    assert cli_main(["eval", *common, *flags]) == 0
    summary = json.loads((both / "metrics.json").read_text())[str(tiny_model_dir)]
    assert list(summary) == ["cola", "cola_short", "cola_other"]
    assert summary["cola"]["prompt_version"] == PROMPT_VERSIONS["cola"]
    assert all(len(summary[task]["matthews_correlation_ci"]) == 2 for task in summary)  # on by default
    assert summary["cola_short"]["prompt_version"] == GlueTaskSpec.from_yaml(short).prompt_version
    records = json.loads((both / summary["cola_short"]["predictions"]).read_text())
    assert len(records) == 4
    assert all(
        record["prompt"].endswith("\nIs this English?") and list(record["choices"]) == ["No", "Yes"]
        for record in records
    )
    alone = tmp_path / "alone"
    assert cli_main(["eval", *common, "--task_config", str(short), "--output_dir", str(alone)]) == 0
    assert list(json.loads((alone / "metrics.json").read_text())[str(tiny_model_dir)]) == ["cola_short"]


def test_callback_logs_to_tensorboard(tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path) -> None:
    """A real SFT run with the in-training evaluation made from the common flags; its scalars reach TensorBoard."""
    eval_args, glue_args, args = TrlParser((EvalCallbackArguments, GlueArguments, SFTConfig)).parse_args_and_config(
        args=[
            "--output_dir", str(tmp_path / "sft"), "--max_steps", "4", "--per_device_train_batch_size", "4",
            "--logging_steps", "1", "--save_strategy", "no", "--report_to", "tensorboard", "--bf16", "false",
            "--use_cpu", "true", "--eval_every_steps", "2", "--eval_tasks", "cola",
            "--eval_data_dir", str(cola_sample_glue_dir), "--eval_max_samples", "8",
        ]
    )  # fmt: skip
    model, tokenizer = load_model_and_tokenizer(tiny_model_dir, device=None, padding_side="right")
    rows = load_glue("cola", "train", cola_sample_glue_dir).select(range(8))
    dataset = Dataset.from_dict({"prompt": rows["sentence"], "completion": [" yes"] * len(rows)})
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    model_name = str(tiny_model_dir)
    tasks = training_eval_tasks(eval_args, {GlueArguments: glue_args}, model_name, args)
    assert [len(task.prompts.prompts) for task in tasks] == [8]
    trainer.add_callback(EvalCallback(trainer, tasks, eval_args.eval_every_steps))
    task_file = _task_file(tmp_path / "short.yaml", name="cola_short")
    from_file = {GlueArguments: dataclasses.replace(glue_args, task_config=[str(task_file)])}
    assert [task.name for task in training_eval_tasks(eval_args, from_file, model_name, args)] == [
        "cola",
        "cola_short",
    ]
    assert training_eval_tasks(EvalCallbackArguments(), from_file, model_name, args) == []  # off by default
    with pytest.raises(RlptError, match="--eval_every_steps needs --eval_tasks"):
        training_eval_tasks(EvalCallbackArguments(eval_every_steps=2), from_file, model_name, args)
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "eval_cola/matthews_correlation" in entry]
    assert [entry["step"] for entry in logged] == [2, 4]
    assert all("loss" not in entry for entry in logged)  # training metrics stay in their own entries
    scalars = read_scalars(tmp_path / "sft")
    assert [step for step, _ in scalars["eval/cola/matthews_correlation"]] == [2, 4]
    logged_values = [entry["eval_cola/matthews_correlation"] for entry in logged]
    assert [value for _, value in scalars["eval/cola/matthews_correlation"]] == pytest.approx(logged_values)
    assert [step for step, _ in scalars["train/loss"]] == [1, 2, 3, 4]
    assert trainer.model.training  # back in training mode after each evaluation


# ---------------------------------------------------------------- real GLUE dev files (slow)


@pytest.mark.slow
def test_fewshot_prompts_real_glue(glue_dir: str | None) -> None:
    for name in DEFAULT_TASKS:
        spec = get_task(name)
        task = build_task_prompts(spec, data_dir=glue_dir, num_fewshot=3, max_samples=4, seed=7)
        train = load_glue(spec.source, "train", glue_dir)
        validation = load_glue(spec.source, "validation", glue_dir)
        examples = train.select(task.fewshot_idx)
        assert (
            len(task.fewshot_idx) == 3
            and task.fewshot_idx
            == build_task_prompts(spec, data_dir=glue_dir, num_fewshot=3, max_samples=1, seed=7).fewshot_idx
        )
        prefix = "".join(f"{spec.render(row)} {spec.answer(row['label'])}{spec.fewshot_separator}" for row in examples)
        evaluated = {spec.render(row) for row in validation}
        assert not {spec.render(row) for row in examples} & evaluated  # no few-shot example is an evaluated row
        for prompt, row in zip(task.prompts, validation.select(range(4)), strict=True):
            assert prompt == prefix + spec.render(row)
            assert prompt.count("\nAnswer:") == 4 and prompt.count(spec.fewshot_separator) == 3


@pytest.mark.slow
def test_every_task_both_modes_tiny_real_glue(tiny_model_dir: Path, glue_dir: str | None, tmp_path: Path) -> None:
    for scoring in ("loglik", "generate"):
        output = tmp_path / scoring
        run_eval(
            *_eval_args(
                model_name_or_path=[str(tiny_model_dir)],
                data_dir=glue_dir,
                output_dir=str(output),
                scoring=scoring,
                max_samples=4,
                max_new_tokens=2,
            )
        )
        summary = _check_report(output, scoring)
        assert list(summary[str(tiny_model_dir)]) == list(DEFAULT_TASKS)


@pytest.mark.slow
def test_smollm2_every_task_both_modes(smollm2_dir: Path, glue_dir: str | None, tmp_path: Path) -> None:
    for scoring in ("loglik", "generate"):
        output = tmp_path / scoring
        results = run_eval(
            *_eval_args(
                model_name_or_path=[str(smollm2_dir)],
                data_dir=glue_dir,
                output_dir=str(output),
                scoring=scoring,
                max_samples=4,
                batch_size=4,
                max_new_tokens=4,
            )
        )[str(smollm2_dir)]
        _check_report(output, scoring)
        if scoring == "generate":
            # the instruct model answers in words the tasks know
            invalid = sum(result.invalid for result in results.values())
            assert invalid < sum(result.n for result in results.values()) / 2

    # SmolLM2's label words are single tokens (one forward per prompt) and its STS-B scores " 0".." 5" share the
    # space token: both shortcuts must give the plain per-example log-likelihoods
    model, tokenizer = load_model_and_tokenizer(smollm2_dir, device="cpu", dtype="float32")
    assert all(len(tokenizer(f" {word}")["input_ids"]) == 1 for word in get_task("cola").choices)
    for name, count in (("cola", 2), ("stsb", 1)):
        task = build_task_prompts(get_task(name), data_dir=glue_dir, max_samples=count)
        records = json.loads((tmp_path / "loglik" / "predictions" / smollm2_dir.name / f"{name}.json").read_text())
        for prompt, record in zip(task.prompts, records, strict=False):
            direct = {choice: _direct_loglik(model, tokenizer, prompt, choice) for choice in task.spec.choices}
            assert record["choices"] == pytest.approx(direct, abs=2e-4)
