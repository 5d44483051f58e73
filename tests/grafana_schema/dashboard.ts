// The rendered dashboards' type: Grafana's published schema (@grafana/schema, package.json pins it) with
// each panel's `options` and `fieldConfig.defaults.custom` typed by that panel type's own schema, which the
// schema's Dashboard leaves open (Record<string, unknown>). Every checked file declares one dashboard as an
// object literal `satisfies FleetmonDashboard`, so TypeScript's excess property check applies at every
// level: a misspelt or unknown field fails the check (tests/deploy/test_dashboards.py).
import type { Dashboard, DataQuery, DataSourceRef, FieldConfig, Panel, RowPanel } from '@grafana/schema';
import type * as BarGauge from '@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen';
import type * as Stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as StateTimeline from '@grafana/schema/dist/esm/raw/composable/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen';
import type * as Table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type * as TimeSeries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

// A query of Grafana's Prometheus data source. @grafana/schema does not publish this one (its composable
// schemas cover other data sources): these are the fields of Grafana's Prometheus query model we use or
// may use, so that a misspelt one fails here too.
export interface PrometheusQuery extends DataQuery {
  datasource?: DataSourceRef;
  expr: string;
  legendFormat?: string;
  range?: boolean;
  instant?: boolean;
  format?: 'time_series' | 'table' | 'heatmap';
  interval?: string;
  intervalFactor?: number;
  exemplar?: boolean;
  editorMode?: 'code' | 'builder';
}

type Override = NonNullable<Panel['fieldConfig']>['overrides'][number];

// A type as it reads in JSON: the schema's string enums (ThresholdsMode.Absolute, ...) as their values
// ('absolute'); everything else, optional fields and index signatures included, as it is.
export type Json<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends Array<infer Item>
      ? Array<Json<Item>>
      : { [Key in keyof T]: Json<T[Key]> };

// A panel of type T whose options and custom field config are that panel type's. Every custom field option
// has a default in the schema, so any may be left out; a panel type without custom field options (bar gauge,
// stat) takes none.
type TypedPanel<T extends string, Options, Custom = never> = Omit<Panel, 'type' | 'options' | 'fieldConfig' | 'targets'> & {
  type: T;
  options: Options;
  targets: PrometheusQuery[];
  fieldConfig: {
    defaults: Omit<FieldConfig, 'custom'> & ([Custom] extends [never] ? { custom?: never } : { custom?: Partial<Custom> });
    overrides: Override[];
  };
};

export type FleetmonPanel =
  | TypedPanel<'timeseries', TimeSeries.Options, TimeSeries.FieldConfig>
  | TypedPanel<'bargauge', BarGauge.Options>
  | TypedPanel<'stat', Stat.Options>
  | TypedPanel<'state-timeline', StateTimeline.Options, StateTimeline.FieldConfig>
  | TypedPanel<'table', Table.Options, Table.FieldConfig>;

export type FleetmonDashboard = Json<
  Omit<Dashboard, 'panels'> & {
    panels: Array<FleetmonPanel | (Omit<RowPanel, 'panels'> & { panels: FleetmonPanel[] })>;
  }
>;
