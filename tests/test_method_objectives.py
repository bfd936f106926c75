"""Each method's training objective equals its paper's sum of terms, written out by hand on one batch.

The chapter pages derive every loss from scratch and show the package's method; these tests check, in
float64 so that both sides agree to rounding error, that the method's ``loss`` (or PixelDA's generator
loss) is the sum the page describes, with the benchmark's recipe where the page uses it.
"""
import torch
import torch.nn.functional as F

from tlbook.benchmark import METHODS
from tlbook.losses import class_soft_labels, scale_invariant_mse
from tlbook.methods import CMD, DAN, DANN, DDC, DSN, SDT, DeepCORAL, PixelDA
from tlbook.nn import PixelGenerator, adaptation_classifier, small_digit_classifier
from tlbook.schedules import dann_lambda

N = 16


def _batch(n_target=N):
    torch.manual_seed(0)
    xs = torch.rand(N, 3, 16, 16, dtype=torch.float64)
    xt = torch.rand(n_target, 3, 16, 16, dtype=torch.float64)
    return xs, xt, torch.randint(0, 10, (N,))


def _mean_distance(hs, ht):
    return ((hs.mean(0) - ht.mean(0)) ** 2).sum()


def _coral(hs, ht):
    d = hs.shape[1]
    return ((torch.cov(hs.T) - torch.cov(ht.T)) ** 2).sum() / (4 * d * d)


def _mk_mmd(hs, ht):
    pooled = torch.cat([hs, ht])
    d2 = torch.cdist(pooled, pooled) ** 2
    gamma = d2[torch.triu_indices(len(pooled), len(pooled), 1).unbind()].median().detach()
    k = sum(torch.exp(-d2 / (2 ** (u / 2) * gamma)) for u in range(-16, 17)) / 33
    n = len(hs)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def _cmd(x, y, k=5):
    mx, my = x.mean(0), y.mean(0)
    total = (mx - my).norm()
    for j in range(2, k + 1):
        total = total + (((x - mx) ** j).mean(0) - ((y - my) ** j).mean(0)).norm()
    return total


def _difference(shared, private):
    hc = F.normalize(shared - shared.mean(0), dim=1)
    hp = F.normalize(private - private.mean(0), dim=1)
    return (hc.T @ hp).pow(2).mean()


def _is_target(n_source, n_target):
    return torch.cat([torch.zeros(n_source), torch.ones(n_target)]).double()


def _discrepancy_case(method, distance, layers, weight, n_target=N):
    xs, xt, ys = _batch(n_target)
    total, _ = method.loss((xs, ys), (xt, None), progress=0.5)
    h = method.classifier.activations(torch.cat([xs, xt]))
    by_hand = F.cross_entropy(h["logits"][:N], ys) + weight * sum(distance(h[l][:N], h[l][N:]) for l in layers)
    torch.testing.assert_close(total, by_hand)


def test_ddc_is_cross_entropy_plus_ramped_mean_distance_on_fc2():
    method = DDC(adaptation_classifier(), **METHODS["ddc"].options).double()
    _discrepancy_case(method, _mean_distance, ["fc2"], 0.25 * dann_lambda(0.5))


def test_deep_coral_is_cross_entropy_plus_coral_on_the_class_scores():
    method = DeepCORAL(adaptation_classifier(), **METHODS["deep-coral"].options).double()
    _discrepancy_case(method, _coral, ["logits"], 1.0)


def test_dan_sums_mk_mmd_over_three_layers():
    # 31 rows: an odd count, so that the median is the same middle value as torch's
    method = DAN(adaptation_classifier(), **METHODS["dan"].options).double()
    _discrepancy_case(method, _mk_mmd, ["fc1", "fc2", "logits"], dann_lambda(0.5), n_target=N - 1)


def test_cmd_is_on_the_sigmoid_bottleneck():
    method = CMD(adaptation_classifier("sigmoid"), **METHODS["cmd"].options).double()
    _discrepancy_case(method, _cmd, ["bottleneck"], 0.1 * dann_lambda(0.5))


def test_dann_value_is_task_plus_domain_loss():
    xs, xt, ys = _batch()
    method = DANN(small_digit_classifier()).double()
    total, _ = method.loss((xs, ys), (xt, None), progress=0.5)
    h = method.classifier.activations(torch.cat([xs, xt]))
    domain_logits = method.adversary.discriminator(h["backbone"])
    by_hand = F.cross_entropy(h["logits"][:N], ys) + F.binary_cross_entropy_with_logits(domain_logits, _is_target(N, N))
    torch.testing.assert_close(total, by_hand)


def test_sdt_objective_adds_labelled_target_confusion_and_soft_labels():
    xs, xt, ys = _batch()
    soft = class_soft_labels(torch.randn(200, 10) * 4, torch.arange(200) % 10, 2.0)
    labelled = (torch.rand(20, 3, 16, 16, dtype=torch.float64), torch.arange(20) % 10)
    method = SDT(small_digit_classifier(), labelled, soft, batch_size=8).double()
    xl, yl = labelled[0][:8], labelled[1][:8]
    drawn = method.labelled.state_dict()
    total, _ = method.loss((xs, ys), (xt, None), progress=0.5, labelled=(xl, yl))
    after = method.labelled.state_dict()
    assert after["position"] == drawn["position"] and torch.equal(after["generator"], drawn["generator"]), \
        "the loss must not draw from the training sampler"
    h = method.classifier.activations(torch.cat([xs, xl, xt]))
    z = h["logits"]
    confusion = -F.log_softmax(method.discriminator(h["fc2"]), 1).mean(1).mean()
    soft_term = -(method.soft_labels[yl] * F.log_softmax(z[N:N + 8] / 2.0, 1)).sum(1).mean()
    by_hand = F.cross_entropy(z[:N], ys) + F.cross_entropy(z[N:N + 8], yl) + 0.01 * confusion + 0.1 * soft_term
    torch.testing.assert_close(total, by_hand)
    every, _ = method.loss((xs, ys), (xt, None), progress=0.5)  # by default, on all the labelled examples
    torch.testing.assert_close(every, method.loss((xs, ys), (xt, None), progress=0.5, labelled=labelled)[0])


def test_pixelda_generator_loss_is_adversarial_plus_masked_content_plus_task():
    torch.manual_seed(0)
    generator = PixelGenerator(3, 3, 16, width=16, blocks=1)
    method = PixelDA(small_digit_classifier(), (3, 16, 16), generator=generator, **METHODS["pixelda"].options).double()
    method.eval()  # the discriminator's input noise and dropout off: both sides see the same network
    xs, ys = torch.rand(N, 3, 16, 16, dtype=torch.float64), torch.randint(0, 10, (N,))
    fake = method.generator(xs)
    loss, _ = method.generator_loss(fake, xs, ys)
    fooled = method.discriminator(fake)
    mask = (xs.mean(1, keepdim=True) > 0.25).double()  # the stroke of a light-on-dark source digit
    d = ((xs - fake) * mask).flatten(1)  # masked pairwise MSE: every pixel counts in k, the mask zeroes the background
    k = d.shape[1]
    content = (d.pow(2).sum(1) / k - d.sum(1).pow(2) / k**2).mean()
    by_hand = (0.1356 * F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled)) + 1.0 * content
               + 0.0101 * F.cross_entropy(method.classifier(fake), ys))
    torch.testing.assert_close(loss, by_hand)


def test_dsn_after_warm_up_sums_task_reconstruction_difference_and_similarity():
    xs, xt, ys = _batch()
    method = DSN(small_digit_classifier(bottleneck=64), (3, 16, 16)).double()
    total, _ = method.loss((xs, ys), (xt, None), progress=0.5)
    hs, ht = method.shared_code(xs), method.shared_code(xt)
    ps, pt = method.private_source(xs), method.private_target(xt)
    domain_logits = method.adversary.discriminator(torch.cat([hs, ht]))
    by_hand = (F.cross_entropy(method.classifier.head(hs), ys)
               + 0.1 * (scale_invariant_mse(method.decoder(hs + ps), xs) + scale_invariant_mse(method.decoder(ht + pt), xt))
               + 0.05 * (_difference(hs, ps) + _difference(ht, pt))
               + 0.25 * F.binary_cross_entropy_with_logits(domain_logits, _is_target(N, N)))
    torch.testing.assert_close(total, by_hand)
