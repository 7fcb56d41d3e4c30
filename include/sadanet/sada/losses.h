// SADA's two stage-1 losses (Li et al., Eq. 4-6), built from differentiable ops so their
// gradients come from autograd on any device. Batch layout: M = N + V rows, the N originals
// first, then V re-stained views; view_source[v] (v < V) is the original that view v was made from.
#pragma once
#include <vector>

#include "sadanet/tensor.h"

namespace sadanet::sada {

// Local alignment (Eq. 4-5). z: the LA MLP's output [M, D, h, w], one embedding per feature-map
// location. Each location's embedding is L2-normalised over D; for every view the squared
// distance to its original's embedding is summed over locations; each original's views are
// averaged, and the originals are summed (image_mean = false, the paper's wording) or averaged
// (image_mean = true, independent of batch size).
Tensor local_alignment_loss(const Tensor& z, int64_t n_orig, const std::vector<int64_t>& view_source,
                            bool image_mean = false);

enum class ContrastiveAnchor {
  view_mean,    // paper (Eq. 6): anchor of original i = mean of the normalised embeddings of i and its views
  each_sample,  // plain SupCon (the authors' code): every embedding is an anchor, itself excluded
};

// Domain-invariant supervised contrastive loss (Eq. 6). p: projector outputs [M, P]
// (normalised here); labels: i64 [N] for the originals (views inherit their source's label).
// For anchor a with positives P(a) (every embedding with a's label; for each_sample, a itself
// excluded) and candidates A(a) (every embedding; for each_sample, a itself excluded):
//   loss(a) = -1/|P(a)| sum_{p in P(a)} log( exp(a.z_p / tau) / sum_{j in A(a)} exp(a.z_j / tau) )
// averaged over anchors that have at least one positive.
Tensor disc_loss(const Tensor& p, const Tensor& labels, int64_t n_orig, const std::vector<int64_t>& view_source,
                 double tau = 0.1, ContrastiveAnchor anchor = ContrastiveAnchor::view_mean);

}  // namespace sadanet::sada
