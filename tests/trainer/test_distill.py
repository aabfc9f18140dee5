"""The distillation loss on hand-computed tensors, hidden-state hooks, and the frozen teacher."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from services.trainer.config import parse_feature_layers
from services.trainer.distill import (
    IGNORE_INDEX,
    DistillationConfig,
    DistillationLoss,
    capture_hidden,
    decoder_blocks,
    load_teacher,
)

from .distill_models import save_tiny_model, tiny_llama

# Two classes, one token. Student logits [0, 0]: p_s = (1/2, 1/2). Teacher logits [2 ln 3, 0] at T = 2:
# teacher / T = [ln 3, 0], so p_t = (3/4, 1/4).
STUDENT = [0.0, 0.0]
TEACHER = [2 * math.log(3), 0.0]
KL_T2 = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)  # KL(p_t || p_s) = 0.130812
CE_LABEL0 = math.log(2)  # -log p_s[0]


def _one(logits: list[float], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.tensor([[logits]], dtype=dtype)  # (B=1, T=1, V)


def _loss(alpha: float = 0.5, temperature: float = 2.0, **kw: Any) -> DistillationLoss:
    return DistillationLoss(DistillationConfig(alpha=alpha, temperature=temperature, **kw))


def _call(loss: DistillationLoss, student: list[float] = STUDENT, teacher: list[float] = TEACHER) -> Any:
    return loss(_one(student), _one(teacher), torch.tensor([[0]]), torch.tensor([[1.0]]))


def test_each_term_by_hand() -> None:
    out = _call(_loss(alpha=0.5, temperature=2.0))
    assert out.kl.item() == pytest.approx(KL_T2, abs=1e-6)
    assert out.ce.item() == pytest.approx(CE_LABEL0, abs=1e-6)
    assert out.total.item() == pytest.approx(0.5 * 4 * KL_T2 + 0.5 * CE_LABEL0, abs=1e-6)
    assert out.feature is None and out.tokens == 1


def test_temperature_softens_both_and_scales_by_t_squared() -> None:
    # At T = 1 the same teacher is p_t = (9/10, 1/10): another KL, and no scaling.
    at_1 = _call(_loss(alpha=1.0, temperature=1.0))
    kl_t1 = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    assert at_1.kl.item() == pytest.approx(kl_t1, abs=1e-6)
    assert at_1.total.item() == pytest.approx(kl_t1, abs=1e-6)
    at_2 = _call(_loss(alpha=1.0, temperature=2.0))
    assert at_2.total.item() == pytest.approx(4 * KL_T2, abs=1e-6)  # the T^2 factor (Hinton et al. 2015)
    at_4 = _call(_loss(alpha=1.0, temperature=4.0), teacher=[4 * math.log(3), 0.0])  # teacher / 4 = [ln 3, 0]
    assert at_4.total.item() == pytest.approx(16 * KL_T2, rel=1e-6)


def test_alpha_zero_and_one_leave_one_term() -> None:
    hard = _call(_loss(alpha=0.0))
    assert hard.total.item() == pytest.approx(CE_LABEL0, abs=1e-6)
    soft = _call(_loss(alpha=1.0))
    assert soft.total.item() == pytest.approx(4 * KL_T2, abs=1e-6)
    assert soft.ce.item() == pytest.approx(CE_LABEL0, abs=1e-6)  # still reported


def test_a_student_equal_to_its_teacher_has_zero_kl() -> None:
    out = _call(_loss(alpha=1.0), student=[0.3, -1.2], teacher=[0.3, -1.2])
    assert out.kl.item() == pytest.approx(0.0, abs=1e-7) and out.total.item() == pytest.approx(0.0, abs=1e-6)


def test_padding_and_ignored_labels_count_nowhere() -> None:
    # Three tokens: the real one, one of padding (mask 0) and one whose label is -100. The other two
    # carry wild logits (even inf and nan): the means are over the real token only.
    student = torch.tensor([[STUDENT, [50.0, -50.0], [float("nan"), 1.0]]])  # (1, 3, 2)
    teacher = torch.tensor([[TEACHER, [-50.0, float("inf")], [3.0, 0.0]]])
    labels = torch.tensor([[0, 1, IGNORE_INDEX]])
    mask = torch.tensor([[1.0, 0.0, 1.0]])
    out = _loss()(student, teacher, labels, mask)
    assert out.tokens == 1
    assert out.kl.item() == pytest.approx(KL_T2, abs=1e-6)
    assert out.ce.item() == pytest.approx(CE_LABEL0, abs=1e-6)
    assert math.isfinite(out.total.item())


def test_mean_over_real_tokens_of_a_batch() -> None:
    # Row 0: two real tokens (label 0 then 1, both under p_s = 1/2); row 1: one real token and padding.
    student = torch.zeros(2, 2, 2)
    teacher = torch.zeros(2, 2, 2)
    student[1, 0] = torch.tensor([math.log(3), 0.0])  # p_s = (3/4, 1/4), label 0: -log 3/4
    labels = torch.tensor([[0, 1], [0, 0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    out = _loss(alpha=0.0)(student, teacher, labels, mask)
    assert out.tokens == 3
    assert out.ce.item() == pytest.approx((2 * math.log(2) - math.log(0.75)) / 3, abs=1e-6)


def test_bf16_logits_are_computed_in_float32() -> None:
    # Values exact in bf16; the result matches a float64 reference to 1e-6 (a bf16 softmax is off by ~1e-2).
    student = [0.0, 1.5, -2.0, 0.25]
    teacher = [2.0, -0.5, 0.75, 1.0]
    out = DistillationLoss()(
        _one(student, torch.bfloat16), _one(teacher, torch.bfloat16), torch.tensor([[1]]), torch.tensor([[1.0]])
    )
    assert out.kl.dtype == torch.float32 and out.ce.dtype == torch.float32 and out.total.dtype == torch.float32
    s64, t64 = torch.tensor(student, dtype=torch.float64), torch.tensor(teacher, dtype=torch.float64)
    ls, lt = torch.log_softmax(s64 / 2, -1), torch.log_softmax(t64 / 2, -1)
    kl = float((lt.exp() * (lt - ls)).sum())
    ce = float(-torch.log_softmax(s64, -1)[1])
    assert out.kl.item() == pytest.approx(kl, abs=1e-6)
    assert out.ce.item() == pytest.approx(ce, abs=1e-6)
    assert out.total.item() == pytest.approx(0.5 * 4 * kl + 0.5 * ce, abs=1e-5)


def test_gradient_reaches_the_student_only() -> None:
    student = _one(STUDENT).requires_grad_(True)
    teacher = _one(TEACHER).requires_grad_(True)
    _loss(alpha=1.0)(student, teacher, torch.tensor([[0]]), torch.tensor([[1.0]])).total.backward()
    assert student.grad is not None and teacher.grad is None
    # d/ds of T^2 KL(p_t || softmax(s / T)) = T (p_s - p_t) = 2 * ((1/2, 1/2) - (3/4, 1/4))
    assert student.grad[0, 0].tolist() == pytest.approx([-0.5, 0.5], abs=1e-6)


def test_feature_loss_on_known_vectors() -> None:
    cfg = DistillationConfig(alpha=0.0, feature_weight=2.0, feature_layers=((0, 0), (1, 2)))
    # Two tokens (second is padding). Block pair 1: orthogonal (1 - cos = 1); pair 2: opposite (= 2).
    s1 = torch.tensor([[[1.0, 0.0], [5.0, 5.0]]])
    t1 = torch.tensor([[[0.0, 3.0], [-5.0, -5.0]]])
    s2 = torch.tensor([[[1.0, 1.0], [1.0, 0.0]]])
    t2 = torch.tensor([[[-2.0, -2.0], [1.0, 0.0]]])
    logits = torch.zeros(1, 2, 2)
    out = DistillationLoss(cfg)(logits, logits, torch.tensor([[0, 0]]), torch.tensor([[1.0, 0.0]]), [s1, s2], [t1, t2])
    assert out.feature is not None and out.feature.item() == pytest.approx((1.0 + 2.0) / 2, abs=1e-6)
    assert out.total.item() == pytest.approx(math.log(2) + 2.0 * 1.5, abs=1e-6)  # alpha 0: CE + weight * feature
    labels, mask = torch.tensor([[0, 0]]), torch.tensor([[1.0, 1.0]])
    same = DistillationLoss(cfg)(logits, logits, labels, mask, [s1, s1], [s1 * 3, s1])
    assert same.feature is not None and same.feature.item() == pytest.approx(0.0, abs=1e-6)  # scale-free


def test_feature_loss_refuses_other_hidden_sizes_and_missing_states() -> None:
    loss = DistillationLoss(DistillationConfig(feature_weight=1.0, feature_layers=((0, 0),)))
    logits = torch.zeros(1, 1, 2)
    with pytest.raises(ValueError, match=r"student's blocks have 4, the teacher's 6"):
        loss(logits, logits, torch.tensor([[0]]), torch.tensor([[1.0]]), [torch.ones(1, 1, 4)], [torch.ones(1, 1, 6)])
    with pytest.raises(ValueError, match="hidden states of 1 block"):
        loss(logits, logits, torch.tensor([[0]]), torch.tensor([[1.0]]))


def test_bad_inputs_and_config() -> None:
    with pytest.raises(ValueError, match="vocabularies differ: 3 vs 2"):
        DistillationLoss()(torch.zeros(1, 1, 3), torch.zeros(1, 1, 2), torch.tensor([[0]]), torch.tensor([[1.0]]))
    with pytest.raises(ValueError, match="alpha"):
        DistillationConfig(alpha=1.5)
    with pytest.raises(ValueError, match="temperature"):
        DistillationConfig(temperature=0.0)
    with pytest.raises(ValueError, match="needs feature_layers"):
        DistillationConfig(feature_weight=0.1)
    assert parse_feature_layers("1, 3:5,") == ((1, 1), (3, 5)) and parse_feature_layers("") == ()
    with pytest.raises(ValueError, match="block indices"):
        parse_feature_layers("1,x")


# -- hooks ----------------------------------------------------------------------------------


def _hooks(model: Any) -> dict[str, list[int]]:
    """Forward hook ids per module (transformers 5 leaves its own after an output_hidden_states call)."""
    return {name: list(m._forward_hooks) for name, m in model.named_modules() if m._forward_hooks}


def _hooks_left(model: Any) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_capture_hidden_returns_the_blocks_outputs() -> None:
    model = tiny_llama(vocab=32, hidden=16, layers=3)
    ids = torch.tensor([[1, 5, 7, 9]])
    with torch.no_grad():
        reference = model(input_ids=ids, output_hidden_states=True).hidden_states
        theirs = _hooks(model)
        with capture_hidden(model, [0, 1]) as got:
            model(input_ids=ids)
    # hidden_states[0] is the embeddings, [i + 1] what block i returned (the last one is normed)
    assert sorted(got) == [0, 1]
    assert torch.equal(got[0], reference[1]) and torch.equal(got[1], reference[2])
    assert _hooks(model) == theirs  # ours are gone, transformers' own untouched


def test_no_hook_survives_an_exception() -> None:
    model = tiny_llama(vocab=32, hidden=16, layers=3)
    blocks = decoder_blocks(model)
    with pytest.raises(RuntimeError, match="boom"), capture_hidden(model, [0, 2]):
        assert len(blocks[0]._forward_hooks) == 1 and len(blocks[2]._forward_hooks) == 1  # they were there
        model(input_ids=torch.tensor([[1, 2]]))
        raise RuntimeError("boom")
    assert _hooks_left(model) == 0
    with (
        pytest.raises(ValueError, match="block index 3 out of range: the model has 3 decoder blocks"),
        capture_hidden(model, [1, 3]),
    ):
        pass
    assert _hooks_left(model) == 0


def test_hooks_reach_the_blocks_through_a_peft_wrapper() -> None:
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny_llama(vocab=32, hidden=16, layers=2), LoraConfig(r=2, target_modules=["up_proj"]))
    with torch.no_grad(), capture_hidden(model, [1]) as got:
        model(input_ids=torch.tensor([[1, 2, 3]]))
    assert got[1].shape == (1, 3, 16) and _hooks_left(model) == 0


# -- the teacher ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def student_tokenizer(base_model: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base_model), local_files_only=True)


def test_load_teacher_freezes(tmp_path: Path, student_tokenizer: Any) -> None:
    path = save_tiny_model(tmp_path / "teacher", student_tokenizer)
    teacher = load_teacher(path, student_tokenizer=student_tokenizer, device="cpu", student_vocab_size=512)
    assert not teacher.model.training
    assert not any(p.requires_grad for p in teacher.model.parameters())
    ids = torch.tensor([[student_tokenizer.bos_token_id, 40, 41]])
    grad_mode: list[bool] = []  # the grad mode inside the teacher's forward
    handle = teacher.model.register_forward_hook(lambda *_: grad_mode.append(torch.is_grad_enabled()))
    try:
        with torch.enable_grad():
            logits, hidden = teacher.forward(ids, torch.ones_like(ids), [1])
    finally:
        handle.remove()
    assert grad_mode == [False]
    assert logits.shape == (1, 3, len(student_tokenizer)) and hidden[1].shape == (1, 3, 128)
    assert logits.grad_fn is None and not logits.requires_grad  # no graph was built
    assert hidden[1].grad_fn is None and _hooks_left(teacher.model) == 0


def test_load_teacher_refuses_another_vocabulary(tmp_path: Path, student_tokenizer: Any) -> None:
    from services.lm.tokenizer import train_tokenizer
    from services.tasks import generate_tasks, training_text

    texts = [training_text(t) for t in generate_tasks(1500, seed=9)]
    smaller = save_tiny_model(tmp_path / "small", train_tokenizer(texts, 300))
    with pytest.raises(ValueError, match=r"different vocabulary from the student's: 3\d\d tokens vs 512"):
        load_teacher(smaller, student_tokenizer=student_tokenizer, device="cpu")
    same_size = save_tiny_model(tmp_path / "same", train_tokenizer(texts, 512))
    with pytest.raises(ValueError, match=r"512 tokens vs 512 \(same size, other ids"):
        load_teacher(same_size, student_tokenizer=student_tokenizer, device="cpu")
    ours = save_tiny_model(tmp_path / "ours", student_tokenizer)
    with pytest.raises(ValueError, match="512 logits per token, the student 600"):
        load_teacher(ours, student_tokenizer=student_tokenizer, device="cpu", student_vocab_size=600)
