"""Pieces of the training path (tokenisation, callbacks, LoRA, model card).

``ft_core.train`` wires them into one Trainer run; each module here stays small and
testable on its own.
"""
