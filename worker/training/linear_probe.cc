#include "worker/training/linear_probe.h"

#include <torch/nn/functional/loss.h>
#include <torch/optim/lbfgs.h>
#include <torch/torch.h>

namespace mw {

double LinearProbeAccuracy(const at::Tensor& train_features, const at::Tensor& train_labels,
                           const at::Tensor& test_features, const at::Tensor& test_labels,
                           const LinearProbeOptions& options) {
  torch::NoGradGuard outer;
  const at::Tensor mean = train_features.mean(0, true);
  const at::Tensor scale = train_features.std(0, true, true).clamp_min(1e-6);
  const at::Tensor x = ((train_features - mean) / scale).contiguous();
  const at::Tensor x_test = (test_features - mean) / scale;
  at::Tensor weight = torch::zeros({x.size(1), options.num_classes}, x.options());
  at::Tensor bias = torch::zeros({options.num_classes}, x.options());
  weight.set_requires_grad(true);
  bias.set_requires_grad(true);
  torch::optim::LBFGS optimizer(
      {weight, bias},
      torch::optim::LBFGSOptions(1.0).max_iter(options.iterations).line_search_fn("strong_wolfe"));
  const auto closure = [&] {
    torch::AutoGradMode enable(true);
    optimizer.zero_grad();
    at::Tensor loss = torch::nn::functional::cross_entropy(x.mm(weight) + bias, train_labels) +
                      0.5 * options.weight_decay * weight.pow(2).sum();
    loss.backward();
    return loss;
  };
  optimizer.step(closure);
  const at::Tensor predicted = (x_test.mm(weight) + bias).argmax(1);
  return predicted.eq(test_labels).to(at::kDouble).mean().item<double>();
}

}  // namespace mw
