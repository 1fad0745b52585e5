/**
 * The public API of nemotron-lab.
 */
export {
  DISPLAY_SYMBOL, display, clearOutput, mimeBundleOf, isMimeBundle, ProgressDisplay, plotlyBundle,
  setDisplaySink, getDisplaySink,
} from "./display/display";
export type { MimeBundle, Displayable, DisplayOptions, DisplaySink, DisplayHandle, PlotlyFigure } from "./display/display";
export { progress, setProgressSink } from "./util/progress";
export type { ProgressHandle, ProgressSink } from "./util/progress";
