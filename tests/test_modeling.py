from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, BertConfig, BertModel

from rlpt_trl import RlptError, load_model_and_tokenizer, resolve_dtype
from rlpt_trl.cli import main as cli_main
from rlpt_trl.models.devices import evaluation_dtype, native_bf16, resolve_device, trainer_precision_defaults
from rlpt_trl.models.loading import load_tokenizer
from rlpt_trl.models.special_tokens import end_of_turn_token, gguf_special_token_ids, match_special_tokens


def test_tiny_model_loads_with_pad_and_padding_side(tiny_model_dir: Path) -> None:
    model, tokenizer = load_model_and_tokenizer(str(tiny_model_dir), device="cpu")
    assert tokenizer.pad_token == tokenizer.eos_token == "<|im_end|>"  # the tokenizer ships no pad token
    assert tokenizer.padding_side == "left"
    assert model.dtype == torch.float32 and model.device.type == "cpu"
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id
    _, scoring_tokenizer = load_model_and_tokenizer(str(tiny_model_dir), device="cpu", padding_side="right")
    assert scoring_tokenizer.padding_side == "right"


def test_no_hub_kernels_are_swapped_in(tiny_model_dir: Path) -> None:
    """transformers (5.25) kernelizes a model at `train()` when `kernels` is installed and fetches the kernels from
    the Hub on CUDA: offline, the first training step died (seen on the GPU acceptance run). The loader opts out."""
    model, _ = load_model_and_tokenizer(str(tiny_model_dir), device="cpu")
    model.train()
    assert not getattr(model, "use_kernels", False) and getattr(model, "kernels_mode", None) is None


def test_left_padded_generation_matches_unpadded(tiny_model_dir: Path) -> None:
    model, tokenizer = load_model_and_tokenizer(str(tiny_model_dir), device="cpu")
    prompts = ["The cat slept on the warm", "We walked"]
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    batched = model.generate(**batch, max_new_tokens=4, do_sample=False)[:, batch["input_ids"].shape[1] :]
    single = tokenizer(prompts[1], return_tensors="pt")
    alone = model.generate(**single, max_new_tokens=4, do_sample=False)[:, single["input_ids"].shape[1] :]
    assert torch.equal(batched[1], alone[0])


def test_dtype_and_device_resolution() -> None:
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("bfloat16") == torch.bfloat16
    assert resolve_dtype(torch.float16) == torch.float16
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    with pytest.raises(RlptError, match="unknown dtype 'float33'"):
        resolve_dtype("float33")


@pytest.mark.parametrize(
    ("avx512_bf16", "amx", "native"), [(False, False, False), (True, False, True), (False, True, True)]
)
def test_cpu_precision_follows_the_hardware(
    monkeypatch: pytest.MonkeyPatch, avx512_bf16: bool, amx: bool, native: bool
) -> None:
    # the CPU's instruction sets, as torch reports them at run time, decide evaluation and training precision
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    cpu = torch.device("cpu")
    assert native_bf16(cpu) is native
    assert evaluation_dtype("auto", cpu) == (torch.bfloat16 if native else torch.float32)
    assert evaluation_dtype("float32", cpu) == torch.float32  # always overridable
    assert resolve_dtype("auto", cpu) == torch.float32  # weights a trainer updates stay fp32 on a CPU
    if not (torch.cuda.is_available() or torch.backends.mps.is_available()):
        assert trainer_precision_defaults() == {"bf16": native, "use_cpu": True}
        from trl import SFTConfig

        from rlpt_trl.trainer.command import training_parser

        parser = training_parser((SFTConfig,))
        (config,) = parser.parse_args_and_config(["--output_dir", "out"])
        assert (config.bf16, config.use_cpu) == (native, True)
        (config,) = parser.parse_args_and_config(["--output_dir", "out", "--bf16", str(not native)])
        assert config.bf16 is not native


def test_dtype_override(tiny_model_dir: Path) -> None:
    model, _ = load_model_and_tokenizer(str(tiny_model_dir), dtype="bfloat16", device="cpu")
    assert model.dtype == torch.bfloat16


@pytest.mark.parametrize("path", ["./no/such/model", "/no/such/dir", "missing.gguf"])
def test_missing_path_is_one_line_error(path: str) -> None:
    with pytest.raises(RlptError, match=f"model path does not exist: {re.escape(path)}$"):
        load_model_and_tokenizer(path)


def test_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(RlptError, match="no config.json"):
        load_model_and_tokenizer(str(tmp_path))


def test_not_a_causal_lm(tmp_path: Path) -> None:
    config = BertConfig(
        vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    BertModel(config).save_pretrained(tmp_path)
    with pytest.raises(RlptError, match=r"not a causal language model \(BertModel\)"):
        load_model_and_tokenizer(str(tmp_path))


def test_unsupported_gguf_architecture(tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "strange.gguf"
    writer = gguf.GGUFWriter(str(path), "strangearch")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(RlptError, match="strangearch"):
        load_model_and_tokenizer(str(path))


def test_corrupt_gguf(tmp_path: Path) -> None:
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"this is not a gguf file")
    with pytest.raises(RlptError, match="broken.gguf"):
        load_model_and_tokenizer(str(path))


def test_import_gguf_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["import-gguf", str(tmp_path / "nope.gguf"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"rlpt-trl import-gguf: error: model path does not exist: {tmp_path / 'nope.gguf'}"
    assert not (tmp_path / "out").exists()
    assert cli_main(["import-gguf", str(tmp_path), str(tmp_path / "out")]) == 1
    assert "not a .gguf file" in capsys.readouterr().err
    assert cli_main(["frobnicate"]) == 2


def test_gguf_special_token_ids_read_the_metadata(tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "tokens.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    assert gguf_special_token_ids(str(path)) == {"bos_token": 1, "eos_token": 2}


def test_misread_special_tokens_are_set_from_the_metadata(
    tiny_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What transformers < 5.18 does to the SmolLM2 GGUF (eos read as bos, no pad), undone from the metadata ids."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    tokenizer.eos_token = tokenizer.bos_token
    declared = {"bos_token": bos, "eos_token": eos, "pad_token": eos}
    with caplog.at_level("WARNING", logger="rlpt_trl.models.special_tokens"):
        assert match_special_tokens(tokenizer, declared, "m.gguf") == ["eos_token", "pad_token"]
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) == (bos, eos, eos)
    assert "read the eos_token of m.gguf as '<|im_start|>'; set to '<|im_end|>'" in caplog.text
    assert match_special_tokens(tokenizer, declared, "m.gguf") == []


def test_a_folder_whose_eos_is_not_the_chat_end_token_is_one_line(
    tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder that a misreading transformers imported: eos and generation stop at <|im_start|>."""
    model, tokenizer = load_model_and_tokenizer(str(tiny_model_dir), device="cpu")
    assert end_of_turn_token(tokenizer) == tokenizer.eos_token == "<|im_end|>"
    tokenizer.eos_token = tokenizer.bos_token
    model.generation_config.eos_token_id = tokenizer.bos_token_id
    model.save_pretrained(tmp_path / "bad")
    tokenizer.save_pretrained(tmp_path / "bad")
    with pytest.raises(RlptError, match=r"ends a turn with '<\|im_end\|>' .* transformers >= 5\.18"):
        load_tokenizer(str(tmp_path / "bad"))
    capsys.readouterr()
    command = ["eval", "--model_name_or_path", str(tmp_path / "bad"), "--tasks", "cola"]
    command += ["--data_dir", str(cola_sample_glue_dir), "--output_dir", str(tmp_path / "out")]
    assert cli_main(command) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert "Traceback" not in err and len(errors) == 1 and errors[0].startswith("rlpt-trl eval: error: ")
    assert "eos is '<|im_start|>'" in errors[0] and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_gguf_round_trip_logits_identical(smollm2_gguf: Path, smollm2_dir: Path) -> None:
    """The GGUF-loaded model and its `import-gguf` safetensors copy give bit-identical logits."""
    model, tokenizer = load_model_and_tokenizer(str(smollm2_gguf), device="cpu")
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None
    # the ids the GGUF declares (transformers < 5.18 read eos and pad as <|im_start|>, id 1)
    assert gguf_special_token_ids(str(smollm2_gguf)) == {"bos_token": 1, "eos_token": 2, "pad_token": 2}
    assert (tokenizer.eos_token, tokenizer.eos_token_id, tokenizer.pad_token_id) == ("<|im_end|>", 2, 2)
    assert end_of_turn_token(AutoTokenizer.from_pretrained(smollm2_dir)) == "<|im_end|>"
    reloaded = AutoModelForCausalLM.from_pretrained(smollm2_dir)
    assert (smollm2_dir / "model.safetensors").is_file()
    assert not any(smollm2_dir.glob("*.bin"))
    batch = tokenizer(["The sailors rode the breeze clear of the", "Hello"], return_tensors="pt", padding=True)
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, reloaded(**batch).logits)


@pytest.mark.slow
def test_imported_smollm2_generates_english(smollm2_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    assert tokenizer.chat_template and (smollm2_dir / "generation_config.json").is_file()
    model, tokenizer = load_model_and_tokenizer(str(smollm2_dir), device="cpu")
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    prompt = "The sailors rode the breeze clear of the"
    batch = tokenizer(prompt, return_tensors="pt")
    output = model.generate(**batch, max_new_tokens=8, do_sample=False)
    continuation = tokenizer.decode(output[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    words = re.findall(r"[A-Za-z]+", continuation)
    assert len(words) >= 3, continuation
    assert {w.lower() for w in words} & {"the", "ship", "and", "a", "of", "to", "was", "sea", "harbor", "boat"}


def test_config_without_model_type_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text('{"hidden_size": 8}')
    with pytest.raises(RlptError, match=r"cannot read the model config of .*model: .*`model_type`") as error:
        load_model_and_tokenizer(str(tmp_path / "model"))
    assert "\n" not in str(error.value)
