import { createBrowserRouter } from 'react-router';
import { Layout } from './Layout';
import { ROUTES, pageTemplate } from './routes';

export interface RouteHandle {
  /** The page path analytics may see: the route template. */
  template: string;
}

export function createRouter() {
  return createBrowserRouter([
    {
      path: '/',
      Component: Layout,
      children: ROUTES.map(({ path, Component }) => {
        const handle: RouteHandle = { template: pageTemplate(path) };
        return path === '' ? { index: true, Component, handle } : { path, Component, handle };
      }),
    },
  ]);
}
