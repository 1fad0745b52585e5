"""An einsum formulation of HF's pure-torch Mamba-2 chunk scan (modeling_nemotron_h.mamba2_chunk_scan),
swapped in at run time for training speed: HF's version materialises broadcast products and sums
them; einsum contracts the same terms directly. Same arguments and semantics, dt clamp included.
check_equivalence() compares loss and gradients of a model with each scan (float32, relative 1e-5).
"""
import torch
import torch.nn.functional as F
import transformers.models.nemotron_h.modeling_nemotron_h as hf

ORIGINAL = hf.mamba2_chunk_scan
calls = 0


def einsum_chunk_scan(hidden_states, dt, A, B, C, chunk_size, D=None, dt_bias=None, initial_states=None,
                      dt_softplus=False, dt_limit=(0.0, float("inf")), return_final_states=False, **kwargs):
    global calls
    calls += 1
    b, l, h, p = hidden_states.shape
    g = B.shape[2]
    if dt_bias is not None:
        dt = dt + dt_bias.to(dt.dtype)
    if dt_softplus:
        dt = F.softplus(dt)
    dt = torch.clamp(dt, min=dt_limit[0], max=dt_limit[1]).float()
    x = hidden_states.float()
    B = B.float().repeat_interleave(h // g, dim=2, output_size=h)
    C = C.float().repeat_interleave(h // g, dim=2, output_size=h)
    pad = (chunk_size - l % chunk_size) % chunk_size
    D_residual = D[..., None] * hf.pad_tensor_by_size(x, pad) if D is not None else None
    xdt = x * dt[..., None]
    dA = A.float() * dt
    xdt, dA, B, C = [hf.reshape_into_chunks(t, pad, chunk_size) for t in (xdt, dA, B, C)]
    dA = dA.permute(0, 3, 1, 2)  # b h c t
    A_cum = torch.cumsum(dA, dim=-1)
    L = torch.exp(hf.segment_sum(dA))  # b h c t s
    y_diag = torch.einsum("bclhn,bcshn,bhcls,bcshp->bclhp", C, B, L, xdt)
    decay_states = torch.exp(A_cum[..., -1:] - A_cum)  # b h c t
    states = torch.einsum("bclhn,bhcl,bclhp->bchpn", B, decay_states, xdt)
    init = initial_states[:, None].to(states) if initial_states is not None else torch.zeros_like(states[:, :1])
    states = torch.cat([init, states], dim=1)
    decay_chunk = torch.exp(hf.segment_sum(F.pad(A_cum[..., -1], (1, 0))))  # b h z c
    new_states = torch.einsum("bhzc,bchpn->bzhpn", decay_chunk, states)
    states, final_state = new_states[:, :-1], new_states[:, -1]
    y_off = torch.einsum("bclhn,bchpn,bhcl->bclhp", C, states, torch.exp(A_cum))
    y = (y_diag + y_off).reshape(b, -1, h, p)
    if D_residual is not None:
        y = y + D_residual
    y = y[:, :l]
    return (y, final_state) if return_final_states else y


def install():
    hf.mamba2_chunk_scan = einsum_chunk_scan


def uninstall():
    hf.mamba2_chunk_scan = ORIGINAL


def _loss_and_grads(model, x):
    model.zero_grad(set_to_none=True)
    loss = model(input_ids=x, labels=x).loss
    loss.backward()
    return loss.detach(), {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def check_equivalence(model_cls, config, seq=150, tol=1e-5):
    """Loss and every gradient with HF's scan vs the einsum scan, float32, a sequence that is not a
    multiple of the chunk size (so padding is exercised). Raises when they differ."""
    global calls
    torch.manual_seed(1234)
    model = model_cls(config).float()
    x = torch.randint(0, config.vocab_size, (2, seq))
    uninstall()
    l0, g0 = _loss_and_grads(model, x)
    install()
    calls = 0
    l1, g1 = _loss_and_grads(model, x)
    uninstall()
    n_mamba = config.hybrid_override_pattern.count("M")
    assert calls == n_mamba, f"einsum scan called {calls} times, expected once per Mamba layer ({n_mamba})"
    rel_loss = abs(l1 - l0).item() / abs(l0).item()
    worst = max(((g1[n] - g).abs().max() / g.abs().max().clamp_min(1e-30)).item() for n, g in g0.items())
    print(f"scan check: loss {l0.item():.6f} vs {l1.item():.6f} (rel {rel_loss:.2e}); worst gradient rel diff {worst:.2e}"
          f" over {len(g0)} tensors", flush=True)
    if rel_loss > tol or worst > tol or set(g0) != set(g1):
        raise AssertionError(f"einsum chunk scan differs from HF's: loss rel {rel_loss:.2e}, gradient rel {worst:.2e} (tol {tol})")
