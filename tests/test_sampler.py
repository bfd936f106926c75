import pytest
import torch

from tlbook.data import BatchSampler


def test_one_pass_visits_every_example_once_then_reshuffles():
    x = torch.arange(20).float().unsqueeze(1)
    sampler = BatchSampler(x, x.squeeze(1).long(), batch_size=5, seed=0)
    first = torch.cat([next(sampler)[1] for _ in range(4)])
    second = torch.cat([next(sampler)[1] for _ in range(4)])
    assert sorted(first.tolist()) == list(range(20)) == sorted(second.tolist())
    assert not torch.equal(first, second)


def test_batches_keep_inputs_and_labels_together():
    x = torch.arange(30).float().view(-1, 1)
    xb, yb = next(BatchSampler(x, 2 * torch.arange(30), batch_size=8))
    assert xb.shape == (8, 1) and torch.equal(2 * xb.squeeze(1).long(), yb)


def test_short_remainder_is_skipped_and_tiny_sets_give_whole_batches():
    sampler = BatchSampler(torch.rand(7, 2), None, batch_size=3)
    assert all(next(sampler)[0].shape == (3, 2) for _ in range(10))
    xb, yb = next(BatchSampler(torch.rand(2, 2), None, batch_size=64))
    assert xb.shape == (2, 2) and yb is None


def test_state_dict_resumes_the_same_stream():
    x = torch.rand(50, 3)
    a = BatchSampler(x, None, batch_size=8, seed=1)
    for _ in range(9):
        next(a)
    state = a.state_dict()
    expected = [next(a)[0] for _ in range(10)]
    b = BatchSampler(x, None, batch_size=8, seed=99)
    b.load_state_dict(state)
    assert all(torch.equal(e, next(b)[0]) for e in expected)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="empty"):
        BatchSampler(torch.empty(0, 2), None, 4)
    with pytest.raises(ValueError, match="3 inputs but 2 labels"):
        BatchSampler(torch.rand(3, 2), torch.zeros(2), 4)
    with pytest.raises(ValueError, match="batch_size must be an integer of at least 1"):
        BatchSampler(torch.rand(3, 2), None, 0)
