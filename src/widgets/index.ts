/** Jupyter widgets for notebook cells: `lab.widgets.IntSlider`, `lab.widgets.interact`, ... */
export { Widget } from "./widget";
export type { Change, ModelSpec, ModuleRef, StateOf } from "./widget";
export {
  Layout, Style, IntSlider, FloatSlider, IntRangeSlider, Play, Dropdown, ToggleButtons, Checkbox, Text, Button, Label, HTML,
  HBox, VBox, Tab, Link, jslink,
} from "./controls";
export type { SelectOption, StyleName } from "./controls";
export { Output, bundleHtml } from "./output";
export { interact, Interactive, widgetFor } from "./interact";
export type { Abbreviation, ValuesOf, ValueWidget } from "./interact";
export {
  PROTOCOL_VERSION, VIEW_MIME, WIDGET_TARGET, CONTROL_TARGET, removeBuffers, putBuffers, setWidgetHost, widgetHost, widgetModels,
} from "./protocol";
export type { WidgetHost, WidgetComm } from "./protocol";
export { explore, Explorer } from "./explorer";
export type { ExploreOptions } from "./explorer";
export { exploreActivations, ActivationExplorer } from "./activations";
export type { ExploreActivationsOptions } from "./activations";
