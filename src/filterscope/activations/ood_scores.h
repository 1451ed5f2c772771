// Out-of-distribution detectors as functions of what one forward pass gives (logits, features,
// activation patterns, feature maps) and of statistics fitted on training images, plus the
// metrics that compare in-distribution and OOD scores. Every score is "higher = more like the
// training data"; the OOD command (ood.h) runs the model and the ODIN input perturbation.
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "filterscope/cluster/gmm.h"
#include "filterscope/cluster/pca.h"

namespace filterscope {

/// Maximum softmax probability of logits / temperature (Hendrycks & Gimpel; ODIN's score at T).
at::Tensor msp_score(const at::Tensor& logits, double temperature = 1.0);
/// The largest logit.
at::Tensor max_logit_score(const at::Tensor& logits);
/// Negative free energy: T * logsumexp(logits / T) (Liu et al. 2020).
at::Tensor energy_score(const at::Tensor& logits, double temperature = 1.0);

/// Class means and one shared covariance of features, accumulated in float64 batch by batch
/// (sums and a sum of outer products: memory D^2, whatever the number of images).
class ClassMoments {
 public:
  ClassMoments() = default;
  ClassMoments(int64_t num_classes, int64_t dim);
  void add(const at::Tensor& features, const at::Tensor& labels);  ///< [N, D], int64 [N]
  int64_t dim() const { return sum_.defined() ? sum_.size(1) : 0; }
  at::Tensor class_sizes() const { return count_; }
  at::Tensor means() const;       ///< [K, D]; classes without images are left out of the model
  at::Tensor covariance() const;  ///< [D, D]: sum over images of (f - mean_y)(f - mean_y)^T / N

 private:
  at::Tensor sum_, count_, outer_;
};

/// Mahalanobis detector (Lee et al. 2018): -min over classes of (f - mu_c)^T S^+ (f - mu_c), with
/// the class means and the pseudo-inverse of the shared covariance (as scikit-learn's
/// EmpiricalCovariance.mahalanobis). Throws Error when no class has images.
struct MahalanobisModel {
  at::Tensor means;      ///< [K', D] float64: the classes that had images
  at::Tensor precision;  ///< [D, D] float64
  static MahalanobisModel fit(const ClassMoments& moments);
  at::Tensor score(const at::Tensor& features) const;  ///< [N, D] -> float64 [N]
};

/// k-nearest-neighbour detector (Sun et al. 2022): features normalised to unit length; the score
/// is minus the Euclidean distance to the k-th nearest training feature. Queries are compared
/// with the bank in chunks, so memory stays bounded.
struct KnnModel {
  at::Tensor bank;  ///< [M, D] float32, unit rows
  int64_t k = 50;
  static at::Tensor normalise(const at::Tensor& features);  ///< rows / max(|row|, 1e-12), float32
  at::Tensor score(const at::Tensor& features) const;       ///< [N, D] -> float64 [N]
};

/// The activation-pattern detector (the paper's idea): -KL(p_x || q_c) where p_x is the image's
/// significance pattern and q_c its predicted class's frequencies, both smoothed and normalised
/// like the class divergences (patterns.h). significant bool [N, U], predicted int64 [N],
/// class_freq [K, U]. Classes without images (NaN rows) score -inf.
at::Tensor pattern_divergence_score(const at::Tensor& significant, const at::Tensor& predicted,
                                    const at::Tensor& class_freq, double smoothing);

/// filterscope's own detector: each filter's maps are projected on the two principal directions
/// of its training maps and scored under the Gaussian mixture fitted there (the GMM method's
/// projection and mixture, at the K that the Calinski-Harabasz criterion chooses). What the plane
/// leaves out counts too, as in probabilistic PCA: the residual off the plane is scored under an
/// isotropic Gaussian with the training maps' residual variance per dimension. Without it a map
/// unlike any training map but projecting near the mixture's centre would look typical. The score
/// is the log-likelihood summed over the filters that had a usable fit.
struct FilterGmmModel {
  at::Tensor map_mean;      ///< [C, D] float64: mean map of each filter's training maps
  at::Tensor components;    ///< [C, D, 2] float64: the principal directions
  at::Tensor residual_var;  ///< [C] float64: mean squared residual per off-plane dimension (0 when D <= 2)
  at::Tensor weights;       ///< [C, Kmax] float64 (0 beyond the chosen K)
  at::Tensor means;         ///< [C, Kmax, 2]
  at::Tensor covariances;   ///< [C, Kmax, 2, 2]
  at::Tensor usable;        ///< [C] bool: a proper projection and a chosen K
  /// maps [N, C, H, W] of the training images.
  static FilterGmmModel fit(const at::Tensor& maps, const PcaOptions& pca, const GmmOptions& gmm);
  int64_t usable_filters() const;
  /// Log-density of the projections under the mixtures: [N, C] float64 (0 for filters not usable).
  at::Tensor plane_log_density(const at::Tensor& maps) const;
  /// The same plus the residual's log-density: [N, C].
  at::Tensor log_density(const at::Tensor& maps) const;
  at::Tensor score(const at::Tensor& maps) const { return log_density(maps).sum(1); }
};

/// How well scores separate in-distribution (positive) from OOD images, with scikit-learn's
/// definitions: AUROC (roc_auc_score), FPR at 95 % TPR (the false-positive rate at the first
/// threshold, from the top, where the true-positive rate reaches 0.95; roc_curve with
/// drop_intermediate=False), AUPR-in and AUPR-out (average_precision_score with in-distribution,
/// resp. OOD with negated scores, as the positive class).
struct DetectionMetrics {
  double auroc = 0, fpr95 = 0, aupr_in = 0, aupr_out = 0;
  std::vector<double> roc_fpr, roc_tpr;  ///< the ROC curve, at most max_points points from (0,0) to (1,1)
};
DetectionMetrics detection_metrics(const at::Tensor& id_scores, const at::Tensor& ood_scores, int64_t max_points = 200);

}  // namespace filterscope
