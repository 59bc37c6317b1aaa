"""Ground floor: annotation type, parsers, manifests, video IO, SynthVAD, real footage."""

from vadkit.data.annotations import (  # noqa: F401
    NORMAL,
    DatasetAnnotations,
    QAPair,
    Segment,
    Track,
    VideoAnnotation,
)
