"""The hint ladder: ``checks.hint("2.3")`` prints the next hint for an exercise, the last one its answer.

A failed check points here ("stuck? checks.hint(...)") instead of naming the answer.
"""

from __future__ import annotations

# For each exercise, hints from a nudge to the answer: checks.hint("2.3") prints the next one.
HINTS: dict[str, tuple[str, ...]] = {
    "1.1": ("A 2-D Gaussian is the product of two 1-D Gaussians, one along each axis.",
            "Sample exp(-x^2 / (2 sigma^2)) at x = -(size - 1)/2, ..., (size - 1)/2; the continuous "
            "normalisation constant does not make a sampled kernel sum to 1.",
            "Answer: x = torch.arange(size) - (size - 1) / 2; g = torch.exp(-x**2 / (2 * sigma**2)); "
            "k = torch.outer(g, g); return k / k.sum()."),
    "1.2": ("The order matters: what happens to frequencies above the new Nyquist limit if you sample first?",
            "Blur with your Gaussian kernel of size degradation.default_kernel_size(sigma): pad with the edge pixels "
            "repeated (mode='replicate'), convolve one channel at a time (groups=C), then keep every scale-th pixel.",
            "Answer: k = degradation.default_kernel_size(sigma); p = k // 2; kernel = gaussian_kernel(k, sigma).to(img); "
            "x = img if img.dim() == 4 else img[None]; C = x.shape[1]; blurred = F.conv2d(F.pad(x, (p, p, p, p), "
            "mode='replicate'), kernel.expand(C, 1, k, k), groups=C); out = blurred[..., ::scale, ::scale]; "
            "return out if img.dim() == 4 else out[0]."),
    "1.3": ("Write the response at the LR Nyquist frequency f = 1/(2r) cycles per HR pixel: exp(-2 pi^2 sigma^2 f^2).",
            "Set it to 1/2, take the natural log of both sides (-2 pi^2 sigma^2 f^2 = -ln 2) and solve for sigma.",
            "Answer: sigma = sqrt(ln 2 / 2) / (pi f) = r * sqrt(2 * ln 2) / pi, about 0.375 r: "
            "return scale * math.sqrt(2 * math.log(2)) / math.pi."),
    "2.1": ("Which standard do SR papers use? MATLAB's rgb2ycbcr, ITU-R BT.601 in studio range: black is not 0.",
            "The coefficients 65.481, 128.553, 24.966 and the offset 16 are on the 0-255 scale; your image is in "
            "[0, 1]. Keep the channel dimension, and do not round.",
            "Answer: (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255, then unsqueeze(0): shape (1, H, W)."),
    "2.2": ("Three steps: convert both images to Y, remove a border, compare.",
            "The border is `scale` pixels on every side of the last two axes (H, W): img[..., s:-s, s:-s]. The "
            "peak of a [0, 1] image is 1.",
            "Answer: a = rgb_to_y(sr_img)[..., s:-s, s:-s]; b = rgb_to_y(hr_img)[..., s:-s, s:-s]; "
            "return 10 * math.log10(1 / float(((a - b) ** 2).mean())) with s = scale."),
    "2.3": ("Write the expected MSE of an estimate e as a function of e, for one pixel: sum_k p_k (e - c_k)^2.",
            "Set its derivative with respect to e to zero and solve for e, using sum_k p_k = 1. Which statistic "
            "of the candidates comes out? (For |e - c_k| you would get a different one.)",
            "Answer: (probabilities.reshape(-1, 1, 1, 1) * candidates).sum(dim=0), the probability-weighted "
            "pixel-wise mean."),
    "3.1": ("The paper's block: conv-BN-PReLU-conv-BN, then add the block's input (fig. 4); the scaling multiplies "
            "only what the branch adds.",
            "3x3 convolutions with padding=1 keep the size; use new tensors (no in-place +=) so that the input "
            "stays intact; keep res_scale in self and apply it to the branch's output, not to the input or the sum.",
            "Answer: self.body = nn.Sequential(nn.Conv2d(F, F, 3, padding=1), nn.BatchNorm2d(F), nn.PReLU(F), "
            "nn.Conv2d(F, F, 3, padding=1), nn.BatchNorm2d(F)); self.res_scale = res_scale; forward returns "
            "x + self.res_scale * self.body(x)."),
    "3.2": ("Pixel shuffle sends input channel c*r*r + i*r + j at (y, x) to output (c, y*r + i, x*r + j); undo that.",
            "Split each spatial axis into (block position, offset inside the block): view (B, C, H, r, W, r). Then "
            "move both offsets next to the colour channel, permute to (B, C, r, r, H, W), and merge.",
            "Answer: img.view(B, C, H // r, r, W // r, r).permute(0, 1, 3, 5, 2, 4).reshape(B, C * r * r, H // r, "
            "W // r), with (B, C, H, W) = img.shape."),
    "3.3": ("Count each layer kind: a conv has k*k*C_in*C_out weights plus C_out biases; BN has 2 per channel; "
            "PReLU one slope per layer.",
            "There are log2(scale) upsampling blocks, each a 3x3 conv from F to 4F channels; head and tail are 9x9.",
            "Answer: compare your sum with sum(p.numel() for p in srresnet.SRResNet(...).parameters())."),
    "4.1": ("torchvision's vgg19.features is a flat list: conv, ReLU, ..., with a MaxPool after each block.",
            "phi_i,j is the ReLU after the j-th conv of block i; every block before i contributes its convs, ReLUs "
            "and one pool.",
            "Answer: look up vgg.layer_index(i, j) or list vgg19().features and count from 0."),
    "4.2": ("Eq. 5 compares feature maps, not pixels, and the paper rescales VGG features by 1/12.75.",
            "The target's features are a constant (no gradient to hr_img); the SR features must keep their graph.",
            "Answer: f_sr = features(sr_img) / 12.75; f_hr = features(hr_img).detach() / 12.75; "
            "return ((f_sr - f_hr) ** 2).mean() (or the sum over channels / (W H) with the paper's convention)."),
    "5.1": ("D's loss is the binary cross-entropy of real images labelled 1 and fakes labelled 0, from logits.",
            "log(sigmoid(x)) = -softplus(-x) and log(1 - sigmoid(x)) = -softplus(x): no overflow.",
            "Answer: F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()."),
    "5.2": ("The non-saturating generator loss of eq. 6 is -log D(G(z)), not log(1 - D(G(z))).",
            "-log sigmoid(x) = softplus(-x), stable for large |x|.",
            "Answer: F.softplus(-fake_logits).mean()."),
    "5.3": ("The relativistic D asks how much more real an HR image looks than the average fake: compare each "
            "real logit with the mean fake logit, and each fake logit with the mean real logit.",
            "Form the relativistic logits real_logits - fake_logits.mean() and fake_logits - real_logits.mean() "
            "(keep the means in the graph), then use exercise 5.1's loss on them: real label 1, fake label 0.",
            "Answer: return losses.discriminator_loss(real_logits - fake_logits.mean(), fake_logits - "
            "real_logits.mean()), i.e. F.softplus(-(real_logits - fake_logits.mean())).mean() + "
            "F.softplus(fake_logits - real_logits.mean()).mean()."),
    "6.1": ("D's step trains D only: nothing of it may reach G, and sr_img must keep its graph for G's step.",
            "Order: score hr_img and sr_img.detach() (a new tensor, not detach_()), the loss, zero_grad, "
            "backward, step.",
            "Answer: real = discriminator(hr_img); fake = discriminator(sr_img.detach()); loss = "
            "losses.discriminator_loss(real, fake); optimizer.zero_grad(); loss.backward(); optimizer.step(); "
            "return the loss and sigmoid(logits).mean() of each."),
    "6.2": ("G's step: D judges sr_img itself (the gradient must flow through D to G), but D's weights are not "
            "trained here.",
            "Freeze D with discriminator.requires_grad_(False) (not torch.no_grad(), which cuts the path to G, and "
            "not eval(), which only switches batch norm); unfreeze afterwards.",
            "relativistic=True: score hr_img too (a batch of its own) and take exercise 5.3's relativistic logits "
            "with the labels swapped: G wants its outputs above the mean real logit (label 1) and the HR crops below "
            "the mean fake logit (label 0); keep both means in the graph.",
            "Answer: discriminator.requires_grad_(False); fake = discriminator(sr_img); adv = "
            "losses.generator_adversarial_loss(fake), or with relativistic=True real = discriminator(hr_img); adv = "
            "losses.discriminator_loss(fake - real.mean(), real - fake.mean()); total = content_loss(sr_img, hr_img) "
            "+ adversarial_weight * adv; optimizer.zero_grad(); total.backward(); optimizer.step(); "
            "discriminator.requires_grad_(True)."),
    "7.1": ("With a handful of ratings, the normal 1.96 is too narrow: use Student's t.",
            "The standard error is the sample standard deviation (ddof=1) divided by sqrt(n); t has n - 1 degrees "
            "of freedom, two-sided.",
            "Answer: mean +- scipy.stats.t.ppf((1 + confidence) / 2, n - 1) * std(ddof=1) / sqrt(n)."),
    "7.2": ("Compare every score of A with every score of B.",
            "A win counts 1, a tie 1/2; divide by the number of pairs n_A * n_B.",
            "Answer: sum((a > b) + 0.5 * (a == b) for a in A for b in B) / (len(A) * len(B))."),
    "7.3": ("Write the half-width as a function of n: h(n) = t_{(1+confidence)/2, n-1} * std / sqrt(n).",
            "t itself depends on n, so there is no closed form: start at n = 2 and increase n until h(n) <= "
            "half_width (the normal approximation (1.96 std / half_width)^2 tells you roughly where you will end).",
            "Answer: n = 2; while mos.t_quantile((1 + confidence) / 2, n - 1) * std / math.sqrt(n) > half_width: "
            "n += 1; return n."),
}

_hints_given: dict[str, int] = {}


def hint(exercise: str) -> None:
    """Print the next hint for ``exercise`` ("2.3"): the first call a nudge, the last one the answer."""
    number = str(exercise).replace("Exercise", "").strip()
    if number not in HINTS:
        raise ValueError(f"no hints for exercise {exercise!r}; the exercises are {', '.join(HINTS)}")
    ladder = HINTS[number]
    level = min(_hints_given.get(number, 0), len(ladder) - 1)
    _hints_given[number] = level + 1
    more = " (call again for the next)" if level + 1 < len(ladder) else " (the last one)"
    print(f"Hint {level + 1} of {len(ladder)} for exercise {number}{more}: {ladder[level]}")
