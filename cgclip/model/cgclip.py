"""CG-CLIP: CLIP ViT frame tokens -> TFE tracklet feature -> BNNeck heads (+ CMR in training).

For a tracklet of T frames (B tracklets at once):

    crops (B, T, 3, H, W) --ImageEncoder--> tokens (B, T, L, D)          L = 1 + P (CLS first)
    f = mean_t CLS_t                      (B, D)    frame-averaged CLS
    v = f @ proj                          (B, E)    CLIP image embedding (projection is linear)
    s = TFE(tokens)                       (B, D)    learnable queries over all frames' tokens
    training: ID logits of BNNeck(f), BNNeck(v), BNNeck(s); CMR logits <v, M + Fusion(M, V)>/tau
    test/tracking: normalize(concat(pre-BN parts in config.embedding_parts))

The tracker calls :meth:`encode_frames` once per detection and :meth:`encode_tracklet` on a rolling
window of stored frame tokens; both accept any T >= 1 (with an optional frame mask for padding).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cgclip.model.backbone import ImageEncoder, TextEncoder, build_open_clip
from cgclip.model.cmr import CaptionMemoryRefinement
from cgclip.model.config import ModelConfig
from cgclip.model.heads import BNNeck
from cgclip.model.preprocess import Preprocess
from cgclip.model.tfe import TFEOutput, TokenFeatureExtractor, mean_pool


@dataclass
class ReidOutput:
    f: torch.Tensor  # (B, D)
    v: torch.Tensor  # (B, E)
    s: torch.Tensor | None  # (B, D); None where encode_tracklet's embedding does not use it
    frame_attention: torch.Tensor | None  # (B, N_Q, T)
    logits: dict[str, torch.Tensor] = field(default_factory=dict)  # part -> (B, K)
    v2rm_logits: torch.Tensor | None = None  # (B, K)
    refined: torch.Tensor | None = None  # (B, K, E) refined memory (for the memory update)


class CGCLIP(nn.Module):
    def __init__(
        self, config: ModelConfig, clip: nn.Module | None = None, name: str = "custom"
    ) -> None:
        super().__init__()
        self.config = config
        self.name = name
        self.pretrained: str | None = None
        self.checkpoint_meta: dict = {}  # the sidecar's "meta" when loaded from a checkpoint
        clip = clip if clip is not None else build_open_clip(config)
        d, e, k = config.vision.width, config.embed_dim, config.num_classes
        self.image_encoder = ImageEncoder(clip.visual, config.num_cameras, config.sie_coef)
        self.text_encoder = TextEncoder(clip)
        self.tfe = None
        if config.pooling == "tfe":
            self.tfe = TokenFeatureExtractor(
                d,
                num_queries=config.tfe_queries,
                heads=config.resolved_tfe_heads,
                blocks=config.tfe_blocks,
                keys=config.tfe_keys,
            )
        self.heads = None
        self.cmr = None
        if k > 0:
            self.heads = nn.ModuleDict({"f": BNNeck(d, k), "v": BNNeck(e, k), "s": BNNeck(d, k)})
            if config.use_cmr:
                self.cmr = CaptionMemoryRefinement(
                    k,
                    e,
                    heads=config.cmr_heads,
                    blocks=config.cmr_blocks,
                    temperature=config.cmr_temperature,
                    memory_update=config.memory_update,
                    momentum=config.memory_momentum,
                )
        self.preprocess = Preprocess(
            size=tuple(config.vision.image_size),
            mean=tuple(config.mean),
            std=tuple(config.std),
            clip_len=config.clip_len,
        )
        if config.grad_checkpointing:
            self.image_encoder.set_grad_checkpointing(True)

    @property
    def device(self) -> torch.device:
        return self.image_encoder.visual.class_embedding.device

    @property
    def tokens_per_frame(self) -> int:
        return self.config.tokens_per_frame

    @property
    def embedding_dim(self) -> int:
        return self.config.embedding_dim

    # ------------------------------------------------------------------ inference API

    def encode_frames(
        self, crops: torch.Tensor, camids: torch.Tensor | None = None, keep: str | None = None
    ) -> torch.Tensor:
        """crops (N, 3, H, W) normalised -> frame tokens (N, L, D), CLS at index 0.

        ``keep`` is "all" (L = 1 + P) or "cls" (L = 1); by default the tokens TFE reads
        (``config.tokens_per_frame``), so a tracker can store only what it will need.
        """
        h, w = self.preprocess.size
        if crops.ndim != 4 or tuple(crops.shape[1:]) != (3, h, w):
            raise ValueError(f"crops must be (N, 3, {h}, {w}), got {tuple(crops.shape)}")
        keep = keep or ("cls" if self.config.tokens_per_frame == 1 else "all")
        tokens, _ = self.image_encoder(crops.to(self.device), _to(camids, self.device))
        return tokens[:, :1] if keep == "cls" else tokens

    def encode_tracklet(
        self,
        x: torch.Tensor,
        frame_mask: torch.Tensor | None = None,
        camids: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Tracklet embedding (B, E_out), L2-normalised, from frame tokens or crops.

        x: tokens (B, T, L, D) from :meth:`encode_frames`, or crops (B, T, 3, H, W).
        frame_mask (B, T) bool marks valid (non-padding) frames. With ``return_attention`` also
        returns the per-frame attention (B, T): TFE attention mass per frame averaged over queries
        and heads (uniform over valid frames for ``pooling="mean"``); each row sums to 1.
        """
        frame_mask = _to(frame_mask, self.device)
        if x.ndim == 5:
            b, t = x.shape[:2]
            cams = None if camids is None else camids.to(self.device).repeat_interleave(t)
            # The attention readout runs TFE, which needs every token when it attends over all.
            keep = "all" if return_attention and self.config.tfe_keys == "all" else None
            tokens = self.encode_frames(x.flatten(0, 1), cams, keep=keep)  # (B*T, L, D)
            x = tokens.view(b, t, *tokens.shape[1:])
        if x.ndim != 4:
            raise ValueError(
                f"expected tokens (B, T, L, D) or crops (B, T, 3, H, W), got {tuple(x.shape)}"
            )
        # TFE runs only when its output is used: s in the embedding, or the attention readout.
        need_s = return_attention or "s" in self.config.embedding_parts
        feats = self._tracklet_features(
            x.to(self.device), frame_mask, need_weights=return_attention, need_s=need_s
        )
        emb = self.embed(feats)
        if return_attention:
            return emb, feats.frame_attention.mean(1)
        return emb

    def embed(self, out: ReidOutput) -> torch.Tensor:
        """Concatenate the pre-BN parts named in the config and L2-normalise: (B, E_out)."""
        parts = {"f": out.f, "v": out.v, "s": out.s}
        return F.normalize(torch.cat([parts[p] for p in self.config.embedding_parts], dim=1), dim=1)

    @torch.no_grad()
    def encode_text(self, texts: str | list[str]) -> torch.Tensor:
        """Texts -> (N, E) L2-normalised CLIP text features (77-token context, truncated)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        tokens = self.text_encoder.tokenize(texts).to(self.device)
        return self.text_encoder(tokens)

    # ------------------------------------------------------------------ training forward

    def forward(
        self,
        images: torch.Tensor,
        camids: torch.Tensor | None = None,
        frame_mask: torch.Tensor | None = None,
    ) -> ReidOutput:
        """images (B, T, 3, H, W), camids (B,) for SIE, frame_mask (B, T) -> features, ID logits
        (when the model has classes) and CMR logits + refined memory (in training mode, with CMR).

        The CMR memory update needs the labels and happens after the optimizer step, in the
        trainer: ``model.cmr.update_memory(labels, out.v, out.refined)``."""
        b, t = images.shape[:2]
        cams = None if camids is None else camids.repeat_interleave(t)
        tokens, _ = self.image_encoder(images.flatten(0, 1), cams)  # (B*T, 1+P, D)
        tokens = tokens.view(b, t, *tokens.shape[1:])  # (B, T, 1+P, D)
        out = self._tracklet_features(tokens, frame_mask, need_weights=False)
        if self.heads is not None:
            out.logits = {p: head(getattr(out, p)) for p, head in self.heads.items()}
        if self.cmr is not None and self.training:
            keys = tokens[:, :, :1] if self.config.cmr_keys == "cls" else tokens
            n = keys.shape[2]
            image_tokens = keys.flatten(1, 2) @ self.image_encoder.proj  # (B, T*n, E)
            key_mask = None
            if frame_mask is not None:
                key_mask = frame_mask[:, :, None].expand(b, t, n).reshape(b, t * n)
            out.refined = self.cmr.refine(image_tokens, key_mask)  # (B, K, E)
            out.v2rm_logits = self.cmr.logits(out.v, out.refined)  # (B, K)
        return out

    def _tracklet_features(
        self,
        tokens: torch.Tensor,
        frame_mask: torch.Tensor | None,
        need_weights: bool,
        need_s: bool = True,
    ) -> ReidOutput:
        """tokens (B, T, L, D) -> f, v, s and the per-frame attention (s skipped if not need_s)."""
        b, t = tokens.shape[:2]
        if frame_mask is not None:
            if frame_mask.shape != (b, t):
                raise ValueError(f"frame_mask must be ({b}, {t}), got {tuple(frame_mask.shape)}")
            if not bool(frame_mask.any(1).all()):
                raise ValueError("every tracklet needs at least one valid frame in frame_mask")
            w = frame_mask.to(tokens.dtype)
            f = torch.einsum("bt,btd->bd", w, tokens[:, :, 0]) / w.sum(1, keepdim=True)
        else:
            f = tokens[:, :, 0].mean(1)  # (B, D)
        v = f @ self.image_encoder.proj.to(f.dtype)  # (B, E)
        if not need_s:
            return ReidOutput(f=f, v=v, s=None, frame_attention=None)
        if self.tfe is not None:
            pooled: TFEOutput = self.tfe(tokens, frame_mask, need_weights=need_weights)
        else:
            pooled = mean_pool(tokens, frame_mask, keys=self.config.tfe_keys)
        return ReidOutput(f=f, v=v, s=pooled.feature, frame_attention=pooled.frame_attention)


def _to(x: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if x is None else x.to(device)
