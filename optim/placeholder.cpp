// Replaced by the optimisers (remove this file once optim/ has real sources).
