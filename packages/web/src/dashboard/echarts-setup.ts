/**
 * The parts of ECharts the parallel coordinates use, imported by name so the bundler keeps only these (the
 * dashboard loads this module on first use).
 */
import { ParallelChart } from 'echarts/charts';
import { ParallelComponent, TooltipComponent, VisualMapComponent } from 'echarts/components';
import { init, use } from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

use([ParallelChart, ParallelComponent, VisualMapComponent, TooltipComponent, SVGRenderer]);

export { init };
