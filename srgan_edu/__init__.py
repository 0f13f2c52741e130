"""srgan_edu: the small, tested library behind the srgan-edu course.

Modules follow the lessons (Ledig et al., CVPR 2017) and stand in five layers. A module
imports from its own layer and the layers listed before it, never from a later one, and
no two modules import each other, not even inside a function: ``tests/test_architecture.py``
reads this very list and checks both; ``docs/architecture.md`` draws it.

Layer 1, concepts:

- ``paper``         the paper's numbers and names: 1e-3, the content losses, its table, crop 96, batch 16
- ``images``        lesson 01: loading, saving, colour spaces, ``modcrop``
- ``degradation``   lesson 01: Gaussian blur, decimation, MATLAB-style bicubic
- ``metrics``       lesson 02: PSNR and SSIM the way SR papers measure them
- ``srresnet``      lesson 03: the generator (sec. 2.1)
- ``vgg``           lesson 04: VGG19 feature maps phi_i,j and their weights
- ``losses``        lessons 04-06: the content losses and the adversarial losses (eq. 2-6)
- ``discriminator`` lesson 05: the 8-conv discriminator
- ``checkpoints``   lessons 06 and 08: atomic, resumable, safely loaded checkpoints; loading a trained generator
- ``ratings``       lesson 07: one rating and the class's ratings file, appended to by many raters at once
- ``mos``           lesson 07: the classroom rating session and its statistics

Layer 2, data and the machine:

- ``archives``      lesson 08: unpacking a downloaded archive safely (nothing lands outside its folder)
- ``datasets``      lesson 08: DIV2K, Set5, Set14, BSD100: registry, download, checksums
- ``subimages``     lesson 08: DIV2K cut once into pieces that decode 15 times faster
- ``data``          lessons 00-03: built-in images, HR folders, paired random crops
- ``runtime``       lesson 00: seeds, device choice, precision, an environment report
- ``distributed``   lesson 08: the same trainer under ``torchrun`` (DistributedDataParallel)
- ``course_models`` the trained SRResNet-MSE and SRGAN-MSE shipped with the package

Layer 3, training and evaluation:

- ``evaluation``    lessons 02 and 07: the paper's protocol on whole data sets
- ``training``      lessons 06 and 08: the trainers and their step functions
- ``tradeoffs``     lesson 07: fidelity against a perceptual score, model names, network interpolation
- ``benchmark_loader`` lesson 08: can the data loader keep up with the step (in memory or on disk, workers)
- ``benchmark``     training throughput on this machine
- ``upscale``       a course model on your own photograph

Layer 4, figures, widgets and checks:

- ``viz``           every figure a learner sees
- ``widgets``       lesson 07's interactive views (ipywidgets)
- ``checks``        feedback on the learner's exercise code

Layer 5, the command line and tooling:

- ``cli``           ``python -m srgan_edu`` and its subcommands
- ``__main__``      runs ``cli``
- ``course``        running the notebooks, building exercises from their source
"""

__version__ = "0.1.0"
