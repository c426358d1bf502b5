"""Models: loading causal LMs and tokenizers (Hub id, folder, GGUF; `loading`), sentence encoders (`embeddings`),
device and dtype choices (`devices`), the frozen models shared by a process (`shared`), batched teacher-forced
likelihoods (`likelihood`, `batching`) and the tiny models built for tests and the quickstart (`tiny`)."""
