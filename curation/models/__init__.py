"""Every model the stages use, in one place: text encoders and their cache, the local causal LM, the harm probe
(with language routing), the contextual harm model, the refusal direction and word alignment. Stages depend on
`models`; `models` never imports a stage."""
