/* /graphiql: GraphiQL (web/vendor, from npm: graphiql 3 with React 18's UMD builds) on this
 * server's /api/v1/graphql. The web app's signed-in session (localStorage 'ticketd.session', app.js)
 * lends its access token, sent as the
 * bearer token, so `me` and the mutations run as that user; without one, as an anonymous caller
 * (an expired token: `unauthorized` errors until the web app signs in again). The editor's documents stay in GraphiQL's own localStorage keys. */
'use strict';
(function () {
  const headers = {};
  try {
    const s = JSON.parse(localStorage.getItem('ticketd.session'));
    if (s && s.access_token) headers.Authorization = 'Bearer ' + s.access_token;
  } catch (e) { /* storage refused: anonymous */ }
  const fetcher = GraphiQL.createFetcher({ url: '/api/v1/graphql', headers });
  const root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, {
    fetcher,
    defaultQuery: '# ticketd: GraphQL beside REST (docs/schema.graphql)\n' +
      '{\n  shows(first: 5) { id startsAt theatreName movie { title } }\n}\n',
  }));
}());
