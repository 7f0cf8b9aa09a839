// colormap.h: numbers to colours for the attention pictures.
//
// viridis for weights in [0, 1]: perceptually uniform (equal steps in value look
// like equal steps in colour), readable in grey and by colour-blind readers.
// A blue-white-red diverging map for differences in [-1, 1]: white is "no
// change", blue "less attention", red "more".
#ifndef LOOPLENS_COLORMAP_H
#define LOOPLENS_COLORMAP_H

// One colour, each channel in [0, 1] (cairo's convention).
typedef struct {
    double r, g, b;
} Rgb;

// t in [0, 1]; values outside are clamped, NaN reads as 0.
Rgb colormap_viridis(double t);
// t in [-1, 1]; values outside are clamped, NaN reads as 0 (white).
Rgb colormap_diverging(double t);

#endif
