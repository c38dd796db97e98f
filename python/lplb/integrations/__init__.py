"""Framework integrations of lplb (optional: each imports its framework).

`lplb.integrations.torch`: balancers for PyTorch MoE layers, with the
planners' calls registered as torch.library custom ops so that
torch.compile(fullgraph=True) traces through them. See docs/INTEGRATION.md.
"""
