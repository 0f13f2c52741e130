"""srgan_edu: the small, tested library behind the srgan-edu course.

Modules follow the lessons (Ledig et al., CVPR 2017):

- ``runtime``       lesson 00: seeds, device choice, an environment report
- ``images``        lesson 01: loading, saving, colour spaces, ``modcrop``
- ``degradation``   lesson 01: Gaussian blur, decimation, MATLAB-style bicubic
- ``metrics``       lesson 02: PSNR and SSIM the way SR papers measure them
- ``data``          lessons 01-08: built-in images, benchmark sets, patch data sets
- ``srresnet``      lesson 03: the generator (sec. 2.1)
- ``vgg``/``losses`` lesson 04-06: VGG19 content loss, adversarial losses (eq. 2-6)
- ``discriminator`` lesson 05
- ``training``      lessons 06 and 08: the trainers and their step functions
- ``checkpoints``   atomic, resumable, safely loaded checkpoints
- ``distributed``   the same trainer under ``torchrun`` (DistributedDataParallel)
- ``benchmark``     training throughput on this machine
- ``evaluation``    lessons 02 and 07: the paper's protocol on whole data sets
- ``mos``           lesson 07: the classroom rating session and its statistics
- ``viz``/``widgets`` every figure a learner sees
- ``checks``        feedback on the learner's exercise code
- ``course``        running the notebooks, building exercises from their source
"""

__version__ = "0.1.0"
