"""Models: loading causal LMs and tokenizers (Hub id, folder, GGUF; `loading`), sentence encoders (`embeddings`),
device and dtype choices (`devices`), the frozen models shared by a process (`shared`), batched teacher-forced
likelihoods (`likelihood`, `batching`), key/value caches on every admitted transformers (`kv_cache`), special tokens
(`special_tokens`) and random weights of a model's shape (`random_init`)."""
