"""What the hand-in report says about each topic beyond its results: the
equations of the methods it uses and the literature it cites.

Equations are matplotlib mathtext (a subset of TeX), each with a sentence
naming its symbols; :mod:`convnets.handin.mathtext` typesets them. A topic
missing here (an experiment added later) is reported without equations and
with the common references only. No measured number belongs here.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Equation:
  """``tex``: the mathtext, without ``$``; ``what``: what its symbols are."""
  tex: str
  what: str


CONV = Equation(
    r"h_{ij} = f\left(\sum_{c=1}^{C}\sum_{k=0}^{K-1}\sum_{l=0}^{K-1} "
    r"w_{ckl}\,x_{c,\,i+k,\,j+l} + b\right)",
    "A convolutional layer (Lecture 7): unit (i, j) of a feature map applies the transfer "
    "function f to its K x K local receptive field in each of the C input maps, weighted by a "
    "kernel w shared by every unit of the map, plus one bias b.")
MAX_POOL = Equation(
    r"h'_{ij} = \max_{(p,q)\in R_{ij}}\, h_{pq}",
    "Max pooling: each unit of a pooled map is the largest of its region R_ij of the feature "
    "map (non-overlapping 2 x 2 regions unless a topic says otherwise).")
SOFTMAX = Equation(
    r"y_c = \frac{\exp a_c}{\sum_{c'} \exp a_{c'}},\qquad "
    r"E = -\frac{1}{N}\sum_{n=1}^{N}\sum_{c=1}^{10} t_c^{(n)} \ln y_c^{(n)}",
    "Softmax outputs y of the output activations a, and the cross-entropy E of the one-hot "
    "targets t, averaged over a batch of N examples, which training minimises.")
WELCH = Equation(
    r"t = \frac{\bar{e}_A - \bar{e}_B}{\sqrt{s_A^2/n_A + s_B^2/n_B}}",
    "Welch's t statistic of two variants' per-seed test errors e (means, sample variances s^2, "
    "seed counts n); p is the two-sided tail of Student's t with the Welch-Satterthwaite "
    "degrees of freedom.")

# The methods every topic shares (the report's introduction).
COMMON = (CONV, MAX_POOL, SOFTMAX, WELCH)

RESIDUAL = Equation(
    r"y = f\left(x + \mathcal{F}(x)\right),\qquad "
    r"\mathcal{F}(x) = \mathrm{BN}\left(W_2 \star f\left(\mathrm{BN}(W_1 \star x)\right)\right)",
    "A residual block (He et al. 2016): two 3 x 3 convolutional layers F with batch "
    "normalisation, added to the block's input by an identity skip connection; a plain block "
    "computes f(F(x)) alone.")
BATCH_NORM = (
    Equation(r"\mu_B = \frac{1}{m}\sum_{i=1}^{m} x_i,\qquad "
             r"\sigma_B^2 = \frac{1}{m}\sum_{i=1}^{m} (x_i - \mu_B)^2",
             "The mean and variance of one feature over a batch B of m values (for a "
             "convolutional layer, every example and every position of the map)."),
    Equation(r"\hat{x}_i = \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}},\qquad "
             r"y_i = \gamma\,\hat{x}_i + \beta",
             "The batch normalising transform (Ioffe & Szegedy 2015): normalise, then scale and "
             "shift by the learnt gamma and beta; at test time running averages replace the "
             "batch's moments."),
)
TRANSFER = (
    Equation(r"\mathrm{sigmoid}(a) = \frac{1}{1 + e^{-a}},\qquad \tanh(a),\qquad "
             r"1.7159\,\tanh\left(\frac{2a}{3}\right)",
             "Saturating transfer functions: the logistic sigmoid, tanh and LeCun et al.'s "
             "scaled tanh."),
    Equation(r"\mathrm{ReLU}(a) = \max(0, a),\qquad \mathrm{leaky}(a) = \max(\alpha a, a),"
             r"\qquad \mathrm{ELU}(a) = a\ (a > 0),\ e^a - 1\ (a \leq 0)",
             "Rectifiers: ReLU, leaky ReLU with a small slope alpha for a < 0, and the "
             "exponential linear unit (Clevert et al. 2016)."),
    Equation(r"\mathrm{GELU}(a) = a\,\Phi(a)",
             "The Gaussian error linear unit (Hendrycks & Gimpel 2016), Phi the standard "
             "normal distribution function."),
)

EQUATIONS: dict[str, tuple[Equation, ...]] = {
    "xcorr_vs_conv": (
        Equation(r"(w \star x)_{ij} = \sum_{k,l} w_{kl}\,x_{i+k,\,j+l},\qquad "
                 r"(w * x)_{ij} = \sum_{k,l} w_{K-1-k,\,L-1-l}\,x_{i+k,\,j+l}",
                 "Cross-correlation (the kernel slides over the input as it is) and true "
                 "convolution (the kernel flipped horizontally and vertically first)."),),
    "pooling": (
        MAX_POOL,
        Equation(r"h' = \frac{1}{|R|}\sum_{(p,q)\in R} h_{pq},\qquad "
                 r"h' = \sum_{(p,q)\in R} h_{pq}",
                 "Average and sum pooling of a region R."),
        Equation(r"h' = \left(\sum_{(p,q)\in R} |h_{pq}|^{P}\right)^{1/P}",
                 "Lp pooling: P = 1 sums absolute values, P = 2 is the Euclidean norm and "
                 "P tending to infinity gives max pooling; P fixed or learnt."),
    ),
    "depth": (
        Equation(r"h^{(l)} = \mathrm{pool}\left(f\left(W^{(l)} \star h^{(l-1)} + "
                 r"b^{(l)}\right)\right),\qquad h^{(0)} = x",
                 "A stack of convolution + pooling layers, each reading the maps of the one "
                 "below it."),
        Equation(r"h^{(l)} = f\left(W^{(l)} h^{(l-1)} + b^{(l)}\right)",
                 "A stack of fully connected hidden layers (the MLPs)."),
    ),
    "early_stopping": (
        Equation(r"t^{*} = \arg\min_{s \leq t} E_{\mathrm{val}}(s),\qquad "
                 r"\mathrm{stop\ at\ the\ first}\ t\ \mathrm{with}\ t - t^{*} = P",
                 "Early stopping with patience P (Prechelt 1998): after each epoch t the "
                 "validation error is compared with the best so far; training stops after P "
                 "epochs without a new best, and the weights of epoch t* are restored."),),
    "regularisation": (
        Equation(r"E_{\mathrm{reg}} = E + \beta_1 \sum_i |w_i| + \beta_2\,\frac{1}{2}"
                 r"\sum_i w_i^2,\qquad \frac{\partial E_{\mathrm{reg}}}{\partial w_i} = "
                 r"\frac{\partial E}{\partial w_i} + \beta_1\,\mathrm{sign}(w_i) + \beta_2 w_i",
                 "L1 and L2 weight penalties of strengths beta_1 and beta_2, over the weights "
                 "only (not biases)."),
        Equation(r"\tilde{h}_i = \frac{m_i\,h_i}{1 - p},\qquad "
                 r"m_i \sim \mathrm{Bernoulli}(1 - p)",
                 "Dropout (Srivastava et al. 2014): during training each hidden unit is "
                 "dropped with probability p and the survivors are scaled so that the expected "
                 "activation is unchanged; at test time no unit is dropped."),
    ),
    "transfer_functions": TRANSFER,
    "preprocessing": (
        Equation(r"x' = \frac{x - \mu}{\sigma},\qquad x' = \frac{x - \bar{x}}{s_x}",
                 "Standardisation by the training set's mean and standard deviation, and "
                 "per-image normalisation by each image's own."),
        Equation(r"x'_{\mathrm{PCA}} = (\Lambda + \epsilon I)^{-1/2} U^{\top}(x - \mu),\qquad "
                 r"x'_{\mathrm{ZCA}} = U x'_{\mathrm{PCA}}",
                 "PCA and ZCA whitening, U and Lambda the eigenvectors and eigenvalues of the "
                 "training pixels' covariance."),
        Equation(r"x \mapsto x - \frac{\mu_{11}}{\mu_{02}}\,(y - \bar{y})",
                 "Deslanting: each row y is shifted horizontally by the ratio of the ink's "
                 "second moments, which makes the principal axis vertical."),
    ),
    "augmentation": (
        Equation(r"\mathbf{p}' = A\,\mathbf{p} + \mathbf{t}",
                 "An affine distortion: each output pixel p reads the input at A p + t, with a "
                 "random scaling, squeezing, shear and translation."),
        Equation(r"\mathbf{p}' = \mathbf{p} + \alpha\,(G_{\sigma} * \mathbf{u})(\mathbf{p}),"
                 r"\qquad \mathbf{u}(\mathbf{p}) \sim U(-1, 1)^2",
                 "An elastic distortion (Simard et al. 2003): a random displacement field "
                 "smoothed by a Gaussian of width sigma and scaled by alpha."),
    ),
    "batch_norm": BATCH_NORM,
    "skip_connections": (RESIDUAL,),
    "lecun1998": (
        TRANSFER[0],
        Equation(r"y_i = \sum_{j=1}^{84} (x_j - w_{ij})^2",
                 "LeNet-5's Euclidean RBF outputs: the squared distance of the 84 units of "
                 "its last hidden layer from the fixed code of class i."),
        Equation(r"h'_{ij} = f\left(\beta \sum_{(p,q)\in R_{ij}} h_{pq} + b\right)",
                 "The paper's trainable subsampling: a region's sum times one learnt "
                 "coefficient per map, plus a bias."),
    ),
    "best_search": BATCH_NORM[1:],
    "kernels": (
        CONV,
        Equation(r"w_{ckl} \leftarrow w_{ckl} - \eta\, m\, \frac{\partial E}{\partial w_{ckl}},"
                 r"\qquad m = 0\ \mathrm{(fixed)},\ 1\ \mathrm{(learned)}",
                 "A fixed first layer: its updates are masked to zero, so its hand-designed or "
                 "random kernels stay as initialised while the layers above learn."),
        Equation(r"r = \frac{\sum_{kl} (w_{kl} - \bar{w})(v_{kl} - \bar{v})}"
                 r"{\sqrt{\sum_{kl} (w_{kl} - \bar{w})^2 \sum_{kl} (v_{kl} - \bar{v})^2}}",
                 "Pearson's correlation of a learned kernel w with a hand-designed one v, the "
                 "measure of their resemblance."),
    ),
    "translation": (
        Equation(r"x'_{ij} = x_{i - \delta_y,\, j - \delta_x}",
                 "A test digit shifted by (delta_y, delta_x) whole pixels, the pixels shifted "
                 "in from the border blank."),
        MAX_POOL,
    ),
}

# Citation key -> (how the text cites it, the reference as the report lists it).
REFERENCES: dict[str, tuple[str, str]] = {
    "lecture7": ("Lecture 7", "MLP Lecture 7: Convolutional Networks, and Coursework 2. "
                 "Machine Learning Practical, University of Edinburgh."),
    "lecun1998": ("LeCun et al. 1998", "Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. "
                  "Gradient-based learning applied to document recognition. Proceedings of the "
                  "IEEE, 86(11), 1998."),
    "lecun1998efficient": ("LeCun, Bottou, Orr & Müller 1998", "Y. LeCun, L. Bottou, G. Orr "
                           "and K.-R. Müller. Efficient BackProp. In Neural Networks: Tricks of "
                           "the Trade, Springer, 1998."),
    "simard2003": ("Simard et al. 2003", "P. Y. Simard, D. Steinkraus and J. C. Platt. Best "
                   "practices for convolutional neural networks applied to visual document "
                   "analysis. ICDAR, 2003."),
    "ioffe2015": ("Ioffe & Szegedy 2015", "S. Ioffe and C. Szegedy. Batch normalization: "
                  "accelerating deep network training by reducing internal covariate shift. "
                  "ICML, 2015."),
    "he2016": ("He et al. 2016", "K. He, X. Zhang, S. Ren and J. Sun. Deep residual learning "
               "for image recognition. CVPR, 2016."),
    "srivastava2014": ("Srivastava et al. 2014", "N. Srivastava, G. Hinton, A. Krizhevsky, I. "
                       "Sutskever and R. Salakhutdinov. Dropout: a simple way to prevent neural "
                       "networks from overfitting. JMLR, 15, 2014."),
    "prechelt1998": ("Prechelt 1998", "L. Prechelt. Early stopping - but when? In Neural "
                     "Networks: Tricks of the Trade, Springer, 1998."),
    "goodfellow2016": ("Goodfellow et al. 2016", "I. Goodfellow, Y. Bengio and A. Courville. "
                       "Deep Learning. MIT Press, 2016."),
    "kingma2015": ("Kingma & Ba 2015", "D. P. Kingma and J. Ba. Adam: a method for stochastic "
                   "optimization. ICLR, 2015."),
    "welch1947": ("Welch 1947", "B. L. Welch. The generalization of \"Student's\" problem "
                  "when several different population variances are involved. Biometrika, 34, "
                  "1947."),
    "clevert2016": ("Clevert et al. 2016", "D.-A. Clevert, T. Unterthiner and S. Hochreiter. "
                    "Fast and accurate deep network learning by exponential linear units "
                    "(ELUs). ICLR, 2016."),
    "hendrycks2016": ("Hendrycks & Gimpel 2016", "D. Hendrycks and K. Gimpel. Gaussian error "
                      "linear units (GELUs). arXiv:1606.08415, 2016."),
}

# The references of the introduction's common methods.
COMMON_CITES = ("lecture7", "lecun1998", "kingma2015", "welch1947")
CITES: dict[str, tuple[str, ...]] = {
    "early_stopping": ("prechelt1998", "goodfellow2016"),
    "regularisation": ("srivastava2014", "goodfellow2016"),
    "transfer_functions": ("lecun1998efficient", "clevert2016", "hendrycks2016"),
    "preprocessing": ("lecun1998efficient",),
    "augmentation": ("simard2003",),
    "batch_norm": ("ioffe2015",),
    "skip_connections": ("he2016", "ioffe2015"),
    "best_search": ("ioffe2015", "simard2003", "srivastava2014"),
}
